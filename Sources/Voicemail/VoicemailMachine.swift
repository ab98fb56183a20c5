// The voicemail dialogue as a plain value: leaving a message (greeting, tone, recording) and
// listening to them by keypad, with the keys of Asterisk's VoiceMailMain. Events in (digits, the
// end of what was playing, timers, the store's answers), actions out (play, record, check a PIN,
// move a message, hang up); the media service runs the actions. No I/O, no clock.

import Foundation
import Wire

/// Something the caller hears; the media service turns it into audio.
public enum VoicemailSound: Sendable, Equatable {
    case prompt(String)
    /// Each digit spoken (a mailbox, a caller's number).
    case digits(String)
    /// A number spoken as a number (0–99; larger ones digit by digit).
    case number(Int)
    case beep
    /// A message's audio.
    case message(Int64)
    /// The mailbox's recorded greeting, or the generated one naming the extension.
    case greeting(mailbox: String, VoicemailGreeting)
    /// When a message was left, as words ("today at fourteen thirty").
    case receivedAt(Double)
}

public struct VoicemailMachine: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        /// A caller leaves a message (`greeting`: unavailable or busy); `full` when there is no room.
        case deposit(mailbox: String, caller: String, greeting: VoicemailGreeting, full: Bool)
        /// A user listens: to `mailbox` (nil: asked for, as `*98` does); `verified` skips the PIN.
        case retrieve(mailbox: String?, verified: Bool)
    }

    /// What a recording is for.
    public enum Purpose: Sendable, Equatable {
        case message
        case greeting(VoicemailGreeting)
    }

    public enum State: Sendable, Equatable {
        case starting
        case greeting
        case recording(Purpose)
        /// The recording has stopped; the store says whether it was kept.
        case closing(Purpose)
        case askMailbox(String)
        case askPIN(String)
        case checkingPIN
        case loading
        case menu
        /// Listening to the message at this index of `messages`.
        case message(Int)
        case options
        /// About to record (the instruction and the tone are playing).
        case readyToRecord(Purpose)
        case newPIN(String)
        case goodbye
        case ended
    }

    public enum Event: Sendable, Equatable {
        case start
        case digit(Character)
        /// What was last asked to play has finished.
        case played
        case timeout
        /// The recorder stopped by itself: silence, or the maximum length.
        case recordingStopped
        /// The store kept the recording (false: too short, or it could not be written).
        case recorded(kept: Bool)
        case pinChecked(Bool)
        case messages([VoicemailMessage])
        case hungUp
    }

    public enum Action: Sendable, Equatable {
        /// Plays these, replacing whatever was playing.
        case play([VoicemailSound])
        case stopPlaying
        case startTimer(seconds: Double)
        case cancelTimer
        case record(Purpose)
        case stopRecording
        case checkPIN(mailbox: String, pin: String)
        case loadMessages(String)
        case markHeard(Int64)
        case save(Int64)
        case delete(Int64)
        case setPIN(String)
        /// Three wrong PINs: a security event, then the call ends.
        case pinFailuresExceeded(String)
        case hangUp
    }

    public let mode: Mode
    public private(set) var state: State = .starting
    public private(set) var mailbox: String?
    public private(set) var messages: [VoicemailMessage] = []
    /// Wrong PINs so far, and menus replayed for want of a key.
    public private(set) var failures = 0
    public private(set) var reprompts = 0
    /// Seconds to wait for the next key of an entry (and for a first key after a prompt).
    public var digitTimeout: Double = 5
    public var maximumPINFailures = 3
    public var maximumReprompts = 3

    public init(_ mode: Mode) {
        self.mode = mode
        if case .deposit(let mailbox, _, _, _) = mode { self.mailbox = mailbox }
        if case .retrieve(let mailbox?, _) = mode { self.mailbox = mailbox }
    }

    // MARK: - Prompts

    static let mainMenu: VoicemailSound = .prompt("vm-main-menu")
    static let afterMessage: VoicemailSound = .prompt("vm-after-message")
    static let optionsMenu: VoicemailSound = .prompt("vm-options")

    var summary: [VoicemailSound] {
        let new = messages.filter { $0.folder == .inbox }.count, old = messages.count - new
        guard new + old > 0 else { return [.prompt("vm-no-messages")] }
        var sounds: [VoicemailSound] = [.prompt("vm-you-have")]
        if new > 0 { sounds += [.number(new), .prompt(new == 1 ? "vm-new-message" : "vm-new-messages")] }
        if new > 0, old > 0 { sounds.append(.prompt("vm-and")) }
        if old > 0 { sounds += [.number(old), .prompt(old == 1 ? "vm-old-message" : "vm-old-messages")] }
        return sounds
    }

    func announce(_ index: Int) -> [VoicemailSound] {
        let message = messages[index]
        var sounds: [VoicemailSound] = [.prompt("vm-message"), .number(index + 1)]
        sounds += message.caller.isEmpty ? [.prompt("vm-from-unknown")] : [.prompt("vm-from"), .digits(message.caller)]
        sounds += [.prompt("vm-received"), .receivedAt(message.receivedAt), .prompt("vm-length"), .number(max(1, Int(message.seconds.rounded()))),
                   .prompt("vm-seconds"), .message(message.id), Self.afterMessage]
        return sounds
    }

    // MARK: - Transitions

    /// Keys that came before the dialogue could take them (at most 32).
    public private(set) var typeahead: [Character] = []

    public mutating func handle(_ event: Event) -> [Action] {
        var actions = step(event)
        while state.acceptsKeys, !typeahead.isEmpty {
            actions += step(.digit(typeahead.removeFirst()))
        }
        return actions
    }

    private mutating func step(_ event: Event) -> [Action] {
        if event == .hungUp { return hangUp() }
        switch (state, event) {
        case (.starting, .start):
            return start()

        // Leaving a message.
        case (.greeting, .digit("#")):
            state = .readyToRecord(.message)
            return [.play([.beep])]
        case (.greeting, .played), (.readyToRecord, .played):
            guard case .readyToRecord(let purpose) = state else {
                state = .recording(.message)
                return [.record(.message)]
            }
            state = .recording(purpose)
            return [.record(purpose)]
        case (.recording(let purpose), .digit("#")), (.recording(let purpose), .recordingStopped):
            state = .closing(purpose)
            return [.stopRecording]
        case (.closing(.message), .recorded(let kept)):
            state = .goodbye
            return [.play([.prompt(kept ? "vm-message-kept" : "vm-message-too-short"), .prompt("vm-goodbye")])]
        case (.closing(.greeting(let greeting)), .recorded(let kept)):
            state = .options
            let said = kept ? (greeting == .name ? "vm-name-saved" : "vm-greeting-saved") : "vm-message-too-short"
            return [.play([.prompt(said), Self.optionsMenu])]

        // Logging in.
        case (.askMailbox(let entered), .digit(let key)):
            return entry(entered, key, finish: { $0.mailboxEntered($1) }, update: { .askMailbox($0) })
        case (.askMailbox(let entered), .timeout):
            return mailboxEntered(entered)
        case (.askPIN(let entered), .digit(let key)):
            return entry(entered, key, finish: { $0.pinEntered($1) }, update: { .askPIN($0) })
        case (.askPIN(let entered), .timeout):
            return pinEntered(entered)
        case (.checkingPIN, .pinChecked(true)):
            state = .loading
            return [.loadMessages(mailbox ?? "")]
        case (.checkingPIN, .pinChecked(false)):
            failures += 1
            guard failures < maximumPINFailures else {
                state = .goodbye
                return [.pinFailuresExceeded(mailbox ?? ""), .play([.prompt("vm-login-incorrect"), .prompt("vm-goodbye")])]
            }
            if case .retrieve(nil, _) = mode {
                state = .askMailbox("")
                return [.play([.prompt("vm-login-incorrect"), .prompt("vm-enter-mailbox")])]
            }
            state = .askPIN("")
            return [.play([.prompt("vm-login-incorrect"), .prompt("vm-enter-pin")])]
        case (.loading, .messages(let list)):
            messages = list
            state = .menu
            return [.play(summary + [Self.mainMenu])]

        // The main menu.
        case (.menu, .digit("1")):
            guard !messages.isEmpty else { return [.cancelTimer, .play([.prompt("vm-no-messages"), Self.mainMenu])] }
            return listen(0)
        case (.menu, .digit("0")):
            state = .options
            return [.cancelTimer, .play([Self.optionsMenu])]
        case (.menu, .digit("#")), (.message, .digit("#")), (.options, .digit("#")):
            return goodbye()
        case (.menu, .digit):
            return [.cancelTimer, .play([Self.mainMenu])]

        // A message.
        case (.message(let index), .digit("4")):
            guard index > 0 else { return [.cancelTimer, .play([.prompt("vm-no-previous"), Self.afterMessage])] }
            return listen(index - 1)
        case (.message(let index), .digit("5")):
            return listen(index)
        case (.message(let index), .digit("6")):
            return next(after: index, said: [])
        case (.message(let index), .digit("7")):
            let id = messages[index].id
            messages.remove(at: index)
            return [.delete(id)] + next(after: index - 1, said: [.prompt("vm-deleted")])
        case (.message(let index), .digit("9")):
            let id = messages[index].id
            messages[index].folder = .saved
            return [.save(id)] + next(after: index, said: [.prompt("vm-saved")])
        case (.message, .digit("*")), (.options, .digit("*")):
            state = .menu
            return [.cancelTimer, .play(summary + [Self.mainMenu])]
        case (.message, .digit):
            return [.cancelTimer, .play([Self.afterMessage])]

        // Mailbox options.
        case (.options, .digit(let key)) where ["1", "2", "3"].contains(key):
            let greeting: VoicemailGreeting = key == "1" ? .unavailable : key == "2" ? .busy : .name
            state = .readyToRecord(.greeting(greeting))
            return [.cancelTimer, .play([.prompt(greeting == .name ? "vm-record-name" : "vm-record-greeting"), .beep])]
        case (.options, .digit("5")):
            state = .newPIN("")
            return [.cancelTimer, .play([.prompt("vm-enter-new-pin")])]
        case (.options, .digit):
            return [.cancelTimer, .play([Self.optionsMenu])]
        case (.newPIN(let entered), .digit(let key)):
            return entry(entered, key, finish: { $0.newPINEntered($1) }, update: { .newPIN($0) })
        case (.newPIN(let entered), .timeout):
            return newPINEntered(entered)

        // Waiting for a key after a prompt.
        case (.menu, .played), (.message, .played), (.options, .played), (.askMailbox, .played), (.askPIN, .played), (.newPIN, .played):
            return [.startTimer(seconds: state.waitsForEntry ? digitTimeout : digitTimeout * 2)]
        case (.menu, .timeout), (.message, .timeout), (.options, .timeout):
            reprompts += 1
            guard reprompts < maximumReprompts else { return goodbye() }
            switch state {
            case .menu: return [.play([Self.mainMenu])]
            case .message: return [.play([Self.afterMessage])]
            default: return [.play([Self.optionsMenu])]
            }
        case (.goodbye, .played):
            state = .ended
            return [.hangUp]
        case (_, .digit(let key)) where !state.acceptsKeys && state != .goodbye && state != .ended:
            // Keyed ahead while a PIN is checked or a recording closes: kept for what comes next.
            if typeahead.count < 32 { typeahead.append(key) }
            return []
        default:
            return []
        }
    }

    private mutating func start() -> [Action] {
        switch mode {
        case .deposit(let mailbox, _, let greeting, let full):
            guard !full else {
                state = .goodbye
                return [.play([.prompt("vm-mailbox-full"), .prompt("vm-goodbye")])]
            }
            state = .greeting
            return [.play([.greeting(mailbox: mailbox, greeting), .beep])]
        case .retrieve(nil, _):
            state = .askMailbox("")
            return [.play([.prompt("vm-enter-mailbox")])]
        case .retrieve(let mailbox?, true):
            state = .loading
            return [.loadMessages(mailbox)]
        case .retrieve(_, false):
            state = .askPIN("")
            return [.play([.prompt("vm-enter-pin")])]
        }
    }

    private mutating func hangUp() -> [Action] {
        defer { state = .ended }
        switch state {
        case .recording: return [.cancelTimer, .stopRecording]
        case .ended: return []
        default: return [.cancelTimer]
        }
    }

    private mutating func goodbye() -> [Action] {
        state = .goodbye
        return [.cancelTimer, .play([.prompt("vm-goodbye")])]
    }

    /// A key of an entry (mailbox, PIN): digits gather, `#` ends it; any key stops the prompt.
    private mutating func entry(_ entered: String, _ key: Character, finish: (inout Self, String) -> [Action], update: (String) -> State) -> [Action] {
        if key == "#" { return [.cancelTimer] + finish(&self, entered) }
        guard key.isNumber, entered.count < 16 else { return [] }
        reprompts = 0
        state = update(entered + String(key))
        return [.stopPlaying, .startTimer(seconds: digitTimeout)]
    }

    /// An entry that ended with nothing keyed is asked again, a few times, then the call ends.
    private mutating func nothingEntered(_ again: VoicemailSound) -> [Action] {
        reprompts += 1
        guard reprompts < maximumReprompts else { return goodbye() }
        return [.play([again])]
    }

    private mutating func mailboxEntered(_ entered: String) -> [Action] {
        guard !entered.isEmpty else { return nothingEntered(.prompt("vm-enter-mailbox")) }
        mailbox = entered
        state = .askPIN("")
        return [.play([.prompt("vm-enter-pin")])]
    }

    private mutating func pinEntered(_ entered: String) -> [Action] {
        guard !entered.isEmpty else { return nothingEntered(.prompt("vm-enter-pin")) }
        state = .checkingPIN
        return [.checkPIN(mailbox: mailbox ?? "", pin: entered)]
    }

    private mutating func newPINEntered(_ entered: String) -> [Action] {
        guard !entered.isEmpty else { return nothingEntered(.prompt("vm-enter-new-pin")) }
        if MailboxStore.pinProblem(entered, mailbox: mailbox ?? "") != nil {
            state = .newPIN("")
            return [.play([.prompt("vm-pin-invalid"), .prompt("vm-enter-new-pin")])]
        }
        state = .options
        return [.setPIN(entered), .play([.prompt("vm-pin-changed"), Self.optionsMenu])]
    }

    /// Plays the message at `index` (heard from then on).
    private mutating func listen(_ index: Int) -> [Action] {
        state = .message(index)
        reprompts = 0
        var actions: [Action] = [.cancelTimer]
        if messages[index].folder == .inbox {
            messages[index].folder = .old
            actions.append(.markHeard(messages[index].id))
        }
        return actions + [.play(announce(index))]
    }

    private mutating func next(after index: Int, said: [VoicemailSound]) -> [Action] {
        guard index + 1 < messages.count else {
            state = .menu
            return [.cancelTimer, .play(said + [.prompt("vm-no-more"), Self.mainMenu])]
        }
        var actions = listen(index + 1)
        if case .play(let sounds) = actions.last { actions[actions.count - 1] = .play(said + sounds) }
        return actions
    }
}

extension VoicemailMachine.State {
    /// A state whose keys mean something now.
    var acceptsKeys: Bool {
        switch self {
        case .greeting, .recording, .askMailbox, .askPIN, .menu, .message, .options, .newPIN: return true
        default: return false
        }
    }

    /// An entry being keyed (mailbox, PIN): its keys come within the digit timeout.
    var waitsForEntry: Bool {
        switch self {
        case .askMailbox, .askPIN, .newPIN: return true
        default: return false
        }
    }
}
