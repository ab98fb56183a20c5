// The voicemail dialogue driven as a value: events in, actions and state out, no media, no clock.

import Testing
import Voicemail
import Wire

@Suite struct VoicemailMachineTests {
    static func message(_ id: Int64, _ folder: VoicemailFolder = .inbox, caller: String = "2001") -> VoicemailMessage {
        VoicemailMessage(id: id, mailbox: "2002", folder: folder, caller: caller, callerName: nil, receivedAt: 1_800_000_000, seconds: 4.6, partial: false)
    }

    @Test func aDepositPlaysTheGreetingAndToneRecordsAndSaysWhetherItWasKept() {
        var vm = VoicemailMachine(.deposit(mailbox: "2002", caller: "2001", greeting: .busy, full: false))
        #expect(vm.handle(.start) == [.play([.greeting(mailbox: "2002", .busy), .beep])])
        #expect(vm.handle(.digit("5")) == [], "keys other than # do not cut the greeting")
        #expect(vm.handle(.played) == [.record(.message)])
        #expect(vm.state == .recording(.message))
        #expect(vm.handle(.recordingStopped) == [.stopRecording], "silence or the maximum length ends it")
        #expect(vm.handle(.recorded(kept: false)) == [.play([.prompt("vm-message-too-short"), .prompt("vm-goodbye")])])
        #expect(vm.handle(.played) == [.hangUp])
        #expect(vm.state == .ended)
    }

    @Test func poundSkipsTheGreetingAndEndsTheRecording() {
        var vm = VoicemailMachine(.deposit(mailbox: "2002", caller: "2001", greeting: .unavailable, full: false))
        _ = vm.handle(.start)
        #expect(vm.handle(.digit("#")) == [.play([.beep])])
        #expect(vm.handle(.played) == [.record(.message)])
        #expect(vm.handle(.digit("#")) == [.stopRecording])
        #expect(vm.handle(.recorded(kept: true)) == [.play([.prompt("vm-message-kept"), .prompt("vm-goodbye")])])
    }

    @Test func hangingUpWhileRecordingKeepsWhatWasSaid() {
        var vm = VoicemailMachine(.deposit(mailbox: "2002", caller: "2001", greeting: .unavailable, full: false))
        _ = vm.handle(.start)
        _ = vm.handle(.played)
        #expect(vm.handle(.hungUp) == [.cancelTimer, .stopRecording])
        #expect(vm.state == .ended)
        #expect(vm.handle(.hungUp) == [])
    }

    @Test func aFullMailboxTakesNoMessage() {
        var vm = VoicemailMachine(.deposit(mailbox: "2002", caller: "2001", greeting: .unavailable, full: true))
        #expect(vm.handle(.start) == [.play([.prompt("vm-mailbox-full"), .prompt("vm-goodbye")])])
        #expect(vm.handle(.played) == [.hangUp])
    }

    @Test func anyMailboxIsAskedForThenItsPINAndThreeWrongOnesEndTheCall() {
        var vm = VoicemailMachine(.retrieve(mailbox: nil, verified: false))
        #expect(vm.handle(.start) == [.play([.prompt("vm-enter-mailbox")])])
        #expect(vm.handle(.played) == [.startTimer(seconds: 5)])
        #expect(vm.handle(.digit("2")) == [.stopPlaying, .startTimer(seconds: 5)])
        for key: Character in ["0", "0", "2"] { _ = vm.handle(.digit(key)) }
        #expect(vm.handle(.digit("#")) == [.cancelTimer, .play([.prompt("vm-enter-pin")])])
        #expect(vm.mailbox == "2002")
        for key: Character in ["9", "9", "9", "9"] { _ = vm.handle(.digit(key)) }
        // The digit timeout ends an entry as # does.
        #expect(vm.handle(.timeout) == [.checkPIN(mailbox: "2002", pin: "9999")])
        #expect(vm.handle(.pinChecked(false)) == [.play([.prompt("vm-login-incorrect"), .prompt("vm-enter-mailbox")])])
        for _ in 0..<2 {
            for key: Character in ["2", "0", "0", "2", "#", "1", "#"] { _ = vm.handle(.digit(key)) }
            let actions = vm.handle(.pinChecked(false))
            if vm.failures == 3 {
                #expect(actions == [.pinFailuresExceeded("2002"), .play([.prompt("vm-login-incorrect"), .prompt("vm-goodbye")])])
            }
        }
        #expect(vm.state == .goodbye)
        #expect(vm.handle(.played) == [.hangUp])
    }

    @Test func theOwnMailboxFromTheOwnPhoneOpensWithoutAPINAndTellsWhatWaits() {
        var vm = VoicemailMachine(.retrieve(mailbox: "2002", verified: true))
        #expect(vm.handle(.start) == [.loadMessages("2002")])
        let actions = vm.handle(.messages([Self.message(1), Self.message(2), Self.message(3, .old)]))
        #expect(actions == [.play([.prompt("vm-you-have"), .number(2), .prompt("vm-new-messages"), .prompt("vm-and"), .number(1),
                                   .prompt("vm-old-message"), .prompt("vm-main-menu")])])
    }

    @Test func keysWalkDeleteAndSaveMessagesAsVoiceMailMainDoes() throws {
        var vm = VoicemailMachine(.retrieve(mailbox: "2002", verified: true))
        _ = vm.handle(.start)
        _ = vm.handle(.messages([Self.message(1), Self.message(2, caller: "")]))
        let first = vm.handle(.digit("1"))
        #expect(first.prefix(2) == [.cancelTimer, .markHeard(1)])
        guard case .play(let sounds)? = first.last else { Issue.record("no announcement"); return }
        #expect(sounds.contains(.message(1)) && sounds.contains(.digits("2001")) && sounds.contains(.number(5)), "\(sounds)")
        #expect(vm.state == .message(0))
        #expect(vm.handle(.digit("4")) == [.cancelTimer, .play([.prompt("vm-no-previous"), .prompt("vm-after-message")])])
        let next = vm.handle(.digit("6"))
        #expect(next.contains(.markHeard(2)) && vm.state == .message(1))
        guard case .play(let second)? = next.last else { Issue.record("no announcement"); return }
        #expect(second.contains(.prompt("vm-from-unknown")))
        // 7 deletes; with no message after it, back to the main menu.
        let deleted = vm.handle(.digit("7"))
        #expect(deleted.first == .delete(2) && vm.state == .menu)
        #expect(deleted.last == .play([.prompt("vm-deleted"), .prompt("vm-no-more"), .prompt("vm-main-menu")]))
        #expect(vm.messages.map(\.id) == [1])
        _ = vm.handle(.digit("1"))
        #expect(vm.handle(.digit("9")).first == .save(1))
        #expect(vm.messages.first?.folder == .saved && vm.state == .menu)
        #expect(vm.handle(.digit("#")) == [.cancelTimer, .play([.prompt("vm-goodbye")])])
    }

    @Test func keysTypedWhileThePINIsCheckedAreKeptForTheMenu() {
        var vm = VoicemailMachine(.retrieve(mailbox: "2002", verified: false))
        _ = vm.handle(.start)
        for key: Character in ["1", "2", "0", "0", "2", "#", "1"] { _ = vm.handle(.digit(key)) }
        #expect(vm.typeahead == ["1"])
        #expect(vm.handle(.pinChecked(true)) == [.loadMessages("2002")])
        let actions = vm.handle(.messages([Self.message(7)]))
        #expect(actions.contains(.markHeard(7)), "the 1 keyed ahead plays the first message: \(actions)")
        #expect(vm.state == .message(0) && vm.typeahead.isEmpty)
    }

    @Test func optionsRecordAGreetingAndChangeThePINWithinTheRules() {
        var vm = VoicemailMachine(.retrieve(mailbox: "2002", verified: true))
        _ = vm.handle(.start)
        _ = vm.handle(.messages([]))
        #expect(vm.handle(.digit("0")) == [.cancelTimer, .play([.prompt("vm-options")])])
        #expect(vm.handle(.digit("2")) == [.cancelTimer, .play([.prompt("vm-record-greeting"), .beep])])
        #expect(vm.handle(.played) == [.record(.greeting(.busy))])
        #expect(vm.handle(.digit("#")) == [.stopRecording])
        #expect(vm.handle(.recorded(kept: true)) == [.play([.prompt("vm-greeting-saved"), .prompt("vm-options")])])
        _ = vm.handle(.digit("5"))
        for key: Character in ["2", "0", "0", "2", "#"] { _ = vm.handle(.digit(key)) }
        #expect(vm.state == .newPIN(""), "the extension is no PIN")
        for key: Character in ["4", "8", "1", "5", "#"] { _ = vm.handle(.digit(key)) }
        #expect(vm.state == .options)
    }

    @Test func aCallerWhoKeysNothingIsToldGoodbye() {
        var vm = VoicemailMachine(.retrieve(mailbox: "2002", verified: true))
        _ = vm.handle(.start)
        _ = vm.handle(.messages([]))
        #expect(vm.handle(.played) == [.startTimer(seconds: 10)])
        _ = vm.handle(.timeout)
        _ = vm.handle(.timeout)
        #expect(vm.handle(.timeout) == [.cancelTimer, .play([.prompt("vm-goodbye")])])
    }
}
