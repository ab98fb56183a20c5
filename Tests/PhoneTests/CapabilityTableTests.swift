// The capability table: every SYSTEM.md row present once; online/offline availability; call
// states; registration; what is not built is said so.

import Phone
import Testing

/// The table's identifiers as SYSTEM.md spells them, for these tests' lists.
private extension Dictionary where Key == CapabilityID {
    subscript(_ id: String) -> Value? {
        guard let typed = CapabilityID(rawValue: id) else { Issue.record("\(id) is no capability"); return nil }
        return self[typed]
    }
}

@Suite struct CapabilityTableTests {
    let online = CapabilityTable.Context(server: .online, registered: true)
    let offline = CapabilityTable.Context(server: .offline, registered: true)

    @Test func everyIdentifierOfTheSystemTableIsThereOnce() {
        let ids = ["call.make", "call.make.fromDevice", "call.answer", "call.redirect", "call.end", "call.hold", "call.retrieve", "call.mute",
                   "call.volume", "call.dtmf", "call.consult", "call.transfer", "call.conference", "conference.join", "call.trade", "call.record",
                   "call.callback", "voicemail.call", "recall.receive", "device.preferred.select", "sendingCallsTo.change", "desktopConsole.select",
                   "dnd.toggle", "forwarding.change", "autoAnswer.change", "presence.view", "presence.set", "loginNotify", "chat", "contacts.view",
                   "contacts.search", "contacts.add", "callHistory.view", "callHistory.update", "acd.login", "acd.logout", "acd.status.view",
                   "hotdesk.login", "hotdesk.logout", "server.reconnect", "session.logout"]
        #expect(CapabilityTable.rows.map(\.id.rawValue).sorted() == ids.sorted())
        #expect(Set(CapabilityTable.rows.map(\.id)).count == CapabilityTable.rows.count)
        #expect(Set(CapabilityID.allCases) == Set(CapabilityTable.rows.map(\.id)), "every typed identifier has its row, and no row is untyped")
    }

    @Test func offlineKeepsCallingAndRefusesWhatNeedsTheServer() {
        let global = CapabilityTable.global(offline)
        for id in ["call.make", "presence.view", "contacts.view", "contacts.search", "callHistory.view", "server.reconnect", "session.logout"] {
            #expect(global[id] == .available, "\(id) offline")
        }
        for id in ["call.make.fromDevice", "dnd.toggle", "forwarding.change", "autoAnswer.change", "contacts.add", "chat", "presence.set",
                   "sendingCallsTo.change", "device.preferred.select", "loginNotify", "callHistory.update"] {
            #expect(global[id] == .unavailable(.serverOffline), "\(id) offline")
        }
        let connected = CapabilityTable.forCall(.connected, offline)
        for id in ["call.hold", "call.mute", "call.volume", "call.dtmf", "call.end"] { #expect(connected[id] == .available, "\(id) offline") }
        for id in ["call.transfer", "call.consult", "call.trade", "call.callback"] { #expect(connected[id] == .unavailable(.serverOffline), "\(id) offline") }
        #expect(CapabilityTable.forCall(.held, offline)[.callRetrieve] == .available, "hold and retrieve work offline")
        #expect(CapabilityTable.forCall(.ringing, offline)[.callAnswer] == .available)
        #expect(CapabilityTable.forCall(.ringing, offline)[.callRedirect] == .unavailable(.serverOffline))
    }

    @Test func onlineAllowsTheServerFeaturesAndNotTryNow() {
        let global = CapabilityTable.global(online)
        #expect(global["chat"] == .available && global["contacts.add"] == .available && global["dnd.toggle"] == .available)
        #expect(global["server.reconnect"] == .unavailable(.serverOnline))
        #expect(CapabilityTable.forCall(.connected, online)[.callTransfer] == .available)
    }

    @Test func callStatesAndRegistrationGateTheRest() {
        #expect(CapabilityTable.forCall(.connected, online)[.callRetrieve] == .unavailable(.callState))
        #expect(CapabilityTable.forCall(.held, online)[.callDtmf] == .unavailable(.callState))
        #expect(CapabilityTable.forCall(.connected, online)[.callAnswer] == .unavailable(.callState))
        let unregistered = CapabilityTable.Context(server: .online, registered: false)
        #expect(CapabilityTable.global(unregistered)[.callMake] == .unavailable(.notRegistered))
    }

    @Test func theCallServersFeaturesAreGatedAsTheTableSays() {
        // The console is put on duty through the collaboration server; offline a console stays on duty.
        #expect(CapabilityTable.global(online)["desktopConsole.select"] == .available)
        #expect(CapabilityTable.global(.init(server: .offline, registered: true))["desktopConsole.select"] == .unavailable(.serverOffline))
        // Hot desking logs in and out through the collaboration server only; offline the user stays.
        let lost = CapabilityTable.Context(server: .offline, registered: true)
        for id in ["hotdesk.login", "hotdesk.logout"] {
            #expect(CapabilityTable.global(online)[id] == .available && CapabilityTable.global(lost)[id] == .unavailable(.serverOffline), "\(id)")
        }
        // Voicemail is the call server's: its mailbox answers offline as online.
        let offline = CapabilityTable.Context(server: .offline, registered: true)
        #expect(CapabilityTable.global(online)["voicemail.call"] == .available && CapabilityTable.global(offline)["voicemail.call"] == .available)
        // A recall is the call server's too: it rings the same with the collaboration server down.
        #expect(CapabilityTable.global(online)["recall.receive"] == .available && CapabilityTable.global(offline)["recall.receive"] == .available)
        // So are the meet-me rooms: joining one is an ordinary call.
        #expect(CapabilityTable.global(online)["conference.join"] == .available && CapabilityTable.global(offline)["conference.join"] == .available)
        // Ad-hoc conferences are the call server's too, but built through the collaboration server.
        #expect(CapabilityTable.forCall(.connected, online)[.callConference] == .available)
        #expect(CapabilityTable.forCall(.held, offline)[.callConference] == .unavailable(.serverOffline))
    }

    @Test func anAgentLogsInAndOutOnlineOnlyAndItsStatusIsGreyedOffline() {
        let offline = CapabilityTable.Context(server: .offline, registered: true)
        for id in ["acd.login", "acd.logout", "acd.status.view"] {
            #expect(CapabilityTable.global(online)[id] == .available, "\(id) online")
            #expect(CapabilityTable.global(offline)[id] == .unavailable(.serverOffline), "\(id) offline")
        }
    }
}
