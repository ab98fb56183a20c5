// The call server and the Holdfast phone with linphone, a third-party phone the project did not
// write: hold, resume and hang-up over TCP; linphone's own attended transfer (REFER, then an INVITE
// with Replaces) through the call server; a Holdfast phone transferred by linphone's REFER.

import Foundation
import TestSupport
import Testing

@Suite(.serialized, .realPeers) struct LinphoneInteropTests {
    /// Waits until every one of `users` has registered (devices.changed on the CTI stream).
    static func registered(_ users: Set<String>, events: EventStreamClient) async throws {
        var seen: Set<String> = []
        while !seen.isSuperset(of: users) {
            let event = try await events.next(type: "devices.changed", within: 15)
            if case .string(let user)? = event["user"], case .array(let devices)? = event["devices"], !devices.isEmpty { seen.insert(user) }
        }
    }

    /// Linphone calls the Sales path; baresip is the phone agent 7001 logged in at. Linphone hears
    /// the queue's music, then the agent once the agent's answer takes the music's place.
    @Test func linphoneCallingAnACDPathIsConnectedToTheAgentsBaresip() async throws {
        let pbx = try await PBXProcess.start(extra: """
            acd:
              groups: [ { name: Sales agents, agents: ["7001"] } ]
              paths: [ { number: "5000", name: Sales, groups: [Sales agents] } ]
            """)
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let ada = try Linphone.start("2001", pbxPort: pbx.port, frequency: 700)
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true)
        let brookProcess = try brook.start(seconds: 20)
        try await Self.registered(["2001", "2002"], events: events)
        let cti = CTIClient(port: pbx.ctiPort)
        let login = try await cti.request("POST", "agents/7001/login", body: #"{"device": "2002"}"#)
        #expect(login["status"] == .string("available"), "\(login.json)")
        ada.command("call sip:5000@127.0.0.1:\(pbx.port)")
        let answered = try await events.next("the agent's answer", within: 15) { $0["type"]?.stringValue == "call.answered" && $0["callee"] == .string("2002") }
        #expect(answered["caller"] == .string("2001"))
        let onCall = try await events.next("7001 on the call", within: 5) { $0["type"]?.stringValue == "agent.changed" && $0["status"] == .string("onACDCall") }
        #expect(onCall["agent"] == .string("7001"))
        // call.answered comes once linphone accepted the re-INVITE with the agent's session.
        let adaHears = ada.recordAnew("agent.wav")
        try await Task.sleep(for: .seconds(2))  // two seconds with the agent
        let id = try ada.callID()
        ada.command("terminate \(id)")
        try await ada.waitFor("ended")
        let wrapUp = try await events.next("7001 free again", within: 5) { $0["type"]?.stringValue == "agent.changed" && $0["agent"] == .string("7001") && $0["status"] == .string("available") }
        #expect(wrapUp["device"] == .string("2002"))
        await ada.stop()
        brookProcess.terminate()
        _ = try? await brookProcess.waitForExit(within: 10)
        await events.close()
        let adaHeard = try await Sox.dominantFrequency(adaHears)
        #expect(abs(adaHeard - 900) < 20, "the caller heard mostly \(adaHeard) Hz from the agent, expected baresip's 900")
        let brookHeard = try await Sox.roughFrequency(try brook.receivedRecording())
        #expect(abs(brookHeard - 700) < 45, "the agent heard \(brookHeard) Hz, expected linphone's 700")
        let paths = try await cti.request("GET", "paths")
        guard case .object(let sales)? = paths.array.first else { Issue.record("no path figures"); return }
        #expect(sales["answered"] == .int(1), "\(sales)")
    }

    @Test func linphoneOverTCPHoldsResumesAndHangsUpThroughTheCallServer() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let ada = try Linphone.start("2001", pbxPort: pbx.port, transport: "tcp", frequency: 700)
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true)
        let brookProcess = try brook.start(seconds: 25)
        try await Self.registered(["2001", "2002"], events: events)
        ada.command("call sip:2002@127.0.0.1:\(pbx.port)")
        try await ada.waitFor("connected.")
        let answered = try await events.next(type: "call.answered", within: 10)
        try await Task.sleep(for: .seconds(1))  // a second of conversation
        let id = try ada.callID()
        ada.command("pause \(id)")
        try await ada.waitFor("is now paused.")
        ada.command("resume \(id)")
        try await ada.waitFor("Media streams established", count: 2)
        try await Task.sleep(for: .seconds(1))  // audio again after the resume
        // linphone's BYE, sent over TCP to the Contact the call server gave it, ends the call.
        ada.command("terminate \(id)")
        try await ada.waitFor("ended")
        let ended = try await events.next("the call to end by linphone's BYE", within: 10) { $0["type"]?.stringValue == "call.ended" }
        #expect(ended["call"] == answered["call"] && ended["outcome"] == .string("answered"), "\(ended)")
        await ada.stop()
        brookProcess.terminate()
        _ = try? await brookProcess.waitForExit(within: 10)
        await events.close()
        let adaHeard = try await Sox.roughFrequency(ada.heard)
        let brookHeard = try await Sox.roughFrequency(try brook.receivedRecording())
        #expect(abs(adaHeard - 900) < 60, "2001 (linphone over TCP) heard \(adaHeard) Hz, expected 900")
        #expect(abs(brookHeard - 700) < 45, "2002 (baresip) heard \(brookHeard) Hz, expected 700")
    }

    @Test func linphonesAttendedTransferReplacesTheConsultationCall() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let ada = try Linphone.start("2001", pbxPort: pbx.port, frequency: 700)
        let brook = try Linphone.start("2002", pbxPort: pbx.port, frequency: 400, autoAnswer: true)
        let cy = try Linphone.start("2003", pbxPort: pbx.port, frequency: 1200, autoAnswer: true)
        try await Self.registered(["2001", "2002", "2003"], events: events)
        // Ada calls Brook, holds him, consults Cy, then joins Brook and Cy (REFER with Replaces).
        ada.command("call sip:2002@127.0.0.1:\(pbx.port)")
        try await ada.waitFor("connected.")
        let first = try ada.callID(1)
        ada.command("pause \(first)")
        try await ada.waitFor("is now paused.")
        ada.command("call sip:2003@127.0.0.1:\(pbx.port)")
        try await ada.waitFor("connected.", count: 2)
        let second = try ada.callID(2)
        ada.command("transfer \(first) --to-call \(second)")
        try await ada.waitFor("has been transfered")
        // Brook called Cy with Replaces: Cy's call with Ada is replaced, not a new call.
        try await brook.waitFor("Replaces=")
        let replaced = try await events.next("Cy's leg with Ada to be replaced", within: 10) { $0["type"]?.stringValue == "call.transferred" && $0["replaced"] != nil }
        #expect(replaced["caller"] == .string("2002") && replaced["callee"] == .string("2003") && replaced["replaced"] == .string("2001"), "\(replaced)")
        try await withTimeout(10, "Ada to hang up both calls") {
            while try await CTIClient(port: pbx.ctiPort).request("GET", "calls").array.count > 1 { try await Task.sleep(for: .milliseconds(100)) }
        }
        let live = try await CTIClient(port: pbx.ctiPort).request("GET", "calls").array
        let only = live.first?.objectValue
        #expect(live.count == 1 && only?["caller"] == .string("2002") && only?["callee"] == .string("2003"), "one call is left, Brook with Cy: \(live)")
        #expect(cy.process.occurrences(of: "Receiving new incoming call") == 1 && cy.process.occurrences(of: "ended") == 0,
                "Cy's one call, from Ada, was re-INVITEd to Brook, never ended: \(cy.process.outputTail())")
        // What each hears from now on (Ada's hold music reached Brook until she hung up).
        let brookHears = brook.recordAnew("after-transfer.wav")
        let cyHears = cy.recordAnew("after-transfer.wav")
        try await Task.sleep(for: .seconds(2))  // two seconds of Brook and Cy
        await brook.stop()
        await cy.stop()
        await ada.stop()
        await events.close()
        let brookHeard = try await Sox.dominantFrequency(brookHears)
        let cyHeard = try await Sox.dominantFrequency(cyHears)
        #expect(abs(brookHeard - 1200) < 20, "Brook heard mostly \(brookHeard) Hz after the transfer, expected Cy's 1,200")
        #expect(abs(cyHeard - 400) < 20, "Cy heard mostly \(cyHeard) Hz after the transfer, expected Brook's 400")
    }

    @Test func aHoldfastPhoneTransferredByLinphoneCallsTheTargetAndReportsIt() async throws {
        let office = try await PhoneCallTests.Office.start(baresip: nil)
        defer { office.stop() }
        let (pbx, phone) = (office.pbx, office.phone)
        let brook = try Linphone.start("2002", pbxPort: pbx.port, frequency: 900, autoAnswer: true)
        let cy = try Baresip(number: "2003", pbxPort: pbx.port, sourceFrequency: 1300, autoAnswer: true)
        let cyProcess = try cy.start(seconds: 30)
        try await Self.registered(["2002", "2003"], events: office.events)
        let states = phone.states()
        let placed = try await phone.request("POST", "calls", json: #"{"to": "2002"}"#)
        #expect(placed.status == 201, "\(placed.json)")
        try await brook.waitFor("connected.")
        // Brook sends the Holdfast phone away to Cy (a blind transfer: REFER through the call server).
        brook.command("transfer \(try brook.callID()) sip:2003@127.0.0.1:\(pbx.port)")
        try await brook.waitFor("has been transfered")
        let state = try await states.next("the phone's call to 2003 connected", within: 15) { state in
            state["calls"]?.arrayValue?.contains { $0.objectValue?["remote"]?.objectValue?["number"] == .string("2003") && $0.objectValue?["state"] == .string("connected") } == true
        }
        await states.close()
        let toCy = state["calls"]?.arrayValue?.compactMap(\.objectValue).first { $0["remote"]?.objectValue?["number"] == .string("2003") } ?? [:]
        try await Task.sleep(for: .seconds(2))  // two seconds with Cy
        _ = try await phone.request("POST", "calls/\(toCy["id"]?.stringValue ?? "")/end")
        await brook.stop()
        cyProcess.terminate()
        _ = try? await cyProcess.waitForExit(within: 10)
        let calls = try await phone.calls()
        #expect(calls.filter { $0["state"] != .string("ended") }.isEmpty, "the old call ended when Brook hung up: \(calls)")
        let cyHeard = try await Sox.roughFrequency(try cy.receivedRecording())
        #expect(abs(cyHeard - 700) < 40, "Cy heard \(cyHeard) Hz from the transferred Holdfast phone, expected 700")
    }
}
