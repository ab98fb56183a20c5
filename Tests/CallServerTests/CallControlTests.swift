// Every CTI call-control command end to end over HTTP, with real SIP user agents on loopback:
// make call (click-to-dial), clear, deflect, blind transfer, hold and retrieve; and each
// command's refusals.

import CTI
import TestSupport
import Foundation
import SIP
import SIPCore
import SIPMessage
import Testing
@testable import CallServer

@Suite(.serialized, .realPeers) struct CallControlTests {
    /// Registers `numbers`, each phone answering with its own session description.
    func phones(_ numbers: [String], server: CallServer) async throws -> [String: Phone] {
        var phones: [String: Phone] = [:]
        for number in numbers {
            let phone = try await Phone.register(number, server: server)
            await phone.behaviour.use(phoneSDP(number))
            phones[number] = phone
        }
        return phones
    }

    func shutdown(_ phones: [String: Phone], _ cti: CTIServer, _ server: CallServer) async {
        for phone in phones.values { await phone.shutdown() }
        await cti.shutdown()
        await server.shutdown()
    }

    @Test func makeCallRingsTheOriginatorThenConnectsTheDestination() async throws {
        let (server, cti, client) = try await startCTI()
        let p = try await phones(["2001", "2002"], server: server)
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let made = try await client.request("POST", "calls", body: #"{"from": "2001", "to": "2002"}"#)
        #expect(made.status == 201)
        #expect(made["state"] == .string("originating"))
        let first = try await p["2001"]!.nextInvite()
        #expect(first.body.isEmpty, "the originator's device is asked for an offer")
        #expect(first.from?.displayName == "Brook Taylor", "the originator sees whom it is calling")
        let second = try await p["2002"]!.nextInvite()
        #expect(second.body == phoneSDP("2001"), "the destination gets the originator's session: media flows directly")
        #expect(second.from?.displayName == "Ada Lovelace")
        let ack = try await p["2001"]!.nextACK()
        #expect(ack.body == phoneSDP("2002"), "the originator's ACK carries the destination's answer")
        let answered = try await events.next(type: "call.answered")
        #expect(answered["caller"] == .string("2001") && answered["callee"] == .string("2002"))
        guard case .string(let id)? = made["call"] else { Issue.record("no call id"); return }
        let cleared = try await client.request("DELETE", "calls/\(id)")
        #expect(cleared.status == 200)
        try await p["2001"]!.ended()
        try await p["2002"]!.ended()
        #expect(try await events.next(type: "call.ended")["outcome"] == .string("cleared"))
        #expect(try server.store.records(after: 0).last?.outcome == "cleared")
        await events.close(); await shutdown(p, cti, server)
    }

    @Test func theOriginatorHangingUpWhileTheDestinationRingsEndsTheCall() async throws {
        let (server, cti, client) = try await startCTI()
        let p = try await phones(["2001", "2002"], server: server)
        await p["2002"]!.behaviour.use(phoneSDP("2002"), ringFor: .seconds(30))
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let made = try await client.request("POST", "calls", body: #"{"from": "2001", "to": "2002"}"#)
        #expect(made.status == 201)
        _ = try await p["2001"]!.nextInvite()
        _ = try await events.next(type: "call.ringing")
        let originator = try #require(await p["2001"]!.behaviour.answeredDialogs.first)
        try await p["2001"]!.ua.hangUp(originator)
        let ended = try await events.next(type: "call.ended")
        #expect(ended["outcome"] == .string("cancelled"), "the call ends when its originator hangs up (it got 481 and went on ringing)")
        #expect(await server.activeCallCount == 0)
        #expect(try server.store.records(after: 0).last?.outcome == "cancelled")
        await events.close(); await shutdown(p, cti, server)
    }

    @Test func makeCallFromANamedDeviceRingsThatDevice() async throws {
        let (server, cti, client) = try await startCTI()
        let p = try await phones(["2001", "2002"], server: server)
        let devices = try await client.request("GET", "users/2001/devices")
        guard case .object(let device)? = devices.array.first, case .string(let name)? = device["device"] else {
            Issue.record("no device for 2001: \(devices.array)"); return
        }
        let made = try await client.request("POST", "calls", body: #"{"from": "2001", "to": "2002", "device": "\#(name)"}"#)
        #expect(made.status == 201, "\(made.json)")
        let first = try await p["2001"]!.nextInvite()
        #expect(first.body.isEmpty, "the named device is asked for an offer")
        guard case .string(let id)? = made["call"] else { Issue.record("no call id"); return }
        _ = try await client.request("DELETE", "calls/\(id)")
        await shutdown(p, cti, server)
    }

    @Test func makeCallRefusals() async throws {
        let (server, cti, client) = try await startCTI()
        let p = try await phones(["2001"], server: server)
        let cases: [(String, Int, String)] = [
            (#"{"from": "2003", "to": "2001"}"#, 409, "device_unavailable"),
            (#"{"from": "2001", "to": "2999"}"#, 422, "invalid_target"),
            (#"{"from": "2001", "to": "2001"}"#, 422, "invalid_target"),
            (#"{"from": "2999", "to": "2001"}"#, 404, "unknown_user"),
            (#"{"from": "2001"}"#, 400, "missing_field"),
            (#"{"from": "2001", "to": 2002}"#, 400, "invalid_value"),
            (#"{"from": "2001", "to": "2002", "via": "x"}"#, 400, "unknown_field"),
            (#"{"from": "2001", "to": "2002", "device": "2001@192.0.2.9:5060"}"#, 409, "device_unavailable"),
        ]
        for (body, status, code) in cases {
            let reply = try await client.request("POST", "calls", body: body)
            #expect(reply.status == status, "\(body)")
            #expect(reply["error"] == .string(code), "\(body): \(reply.json)")
        }
        for (method, path) in [("DELETE", "calls/none"), ("POST", "calls/none/hold")] {
            let reply = try await client.request(method, path, body: method == "POST" ? #"{"party": "2001"}"# : nil)
            #expect(reply.status == 404 && reply["error"] == .string("unknown_call"), "\(method) \(path)")
        }
        await shutdown(p, cti, server)
    }

    @Test func clearAndDeflectARingingCall() async throws {
        let (server, cti, client) = try await startCTI()
        let p = try await phones(["2001", "2002", "2003"], server: server)
        await p["2002"]!.behaviour.use(phoneSDP("2002"), ringFor: .seconds(30))
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let caller = Task { try await p["2001"]!.call("2002", server: server) }
        let ringing = try await events.next(type: "call.ringing")
        guard case .string(let id)? = ringing["call"] else { Issue.record("no call id"); return }
        #expect(try await client.request("POST", "calls/\(id)/hold", body: #"{"party": "2001"}"#)["error"] == .string("invalid_state"))
        // A user's phone may redirect only a call ringing it: 2004 cannot take 2002's call away.
        let stranger = try await client.request("POST", "calls/\(id)/deflect", body: #"{"to": "2004", "party": "2004"}"#)
        #expect(stranger.status == 422 && stranger["error"] == .string("not_a_party"), "\(stranger.json)")
        let deflected = try await client.request("POST", "calls/\(id)/deflect", body: #"{"to": "2003", "party": "2002"}"#)
        #expect(deflected.status == 200, "\(deflected.json)")
        let reached = try await p["2003"]!.nextInvite()
        #expect(reached.body == phoneSDP("2001"))
        let leg = try await caller.value
        #expect(leg.remoteBody == phoneSDP("2003"), "2003 answered the deflected call")
        #expect(try await client.request("POST", "calls/\(id)/deflect", body: #"{"to": "2004"}"#)["error"] == .string("invalid_state"), "a connected call cannot be deflected")
        try await p["2001"]!.ua.hangUp(leg.dialog.id)
        let record = try #require(try server.store.records(after: 0).last)
        #expect(record.path == ["2002", "deflect", "2003"])

        // Clear while ringing: the caller gets a final response, the callee stops ringing.
        let second = Task { try await p["2001"]!.call("2002", server: server) }
        let ringingAgain = try await events.next("the second call ringing") { $0["type"] == .string("call.ringing") && $0["call"] != .string(id) }
        guard case .string(let id2)? = ringingAgain["call"] else { Issue.record("no call id"); return }
        #expect(try await client.request("DELETE", "calls/\(id2)").status == 200)
        await #expect(throws: UserAgentError.self) { try await second.value }
        #expect(try await events.next(type: "call.ended")["outcome"] == .string("cleared"))
        await events.close(); await shutdown(p, cti, server)
    }

    @Test func holdAndRetrieveReofferBothPhones() async throws {
        let (server, cti, client) = try await startCTI()
        let p = try await phones(["2001", "2002"], server: server)
        let leg = try await p["2001"]!.call("2002", server: server)
        _ = try await p["2002"]!.nextInvite()
        let id = leg.dialog.id.callID
        let held = try await client.request("POST", "calls/\(id)/hold", body: #"{"party": "2001"}"#)
        #expect(held.status == 200, "\(held.json)")
        let toOther = try await p["2002"]!.nextInDialog(.invite)
        let toHolder = try await p["2001"]!.nextInDialog(.invite)
        #expect(sdpText(toOther.body).contains("a=sendonly") && !sdpText(toOther.body).contains("m=audio 40002"),
                "2002, held, is re-offered the music service's session (send-only), not 2001's")
        #expect(sdpText(toHolder.body).contains("a=inactive") && sdpText(toHolder.body).contains("m=audio 40004"))
        #expect(sdpText(toOther.body).contains("o=p2001 1 2 IN IP4"), "the re-offer continues the session 2002 knows (next version)")
        #expect(try await client.request("POST", "calls/\(id)/hold", body: #"{"party": "2001"}"#)["error"] == .string("invalid_state"))
        #expect(try await client.request("POST", "calls/\(id)/hold", body: #"{"party": "2003"}"#)["error"] == .string("not_a_party"))
        let retrieved = try await client.request("POST", "calls/\(id)/retrieve", body: #"{"party": "2001"}"#)
        #expect(retrieved.status == 200)
        let resumed = try await p["2002"]!.nextInDialog(.invite)
        #expect(sdpText(resumed.body).contains("a=sendrecv"))
        #expect(sdpText(resumed.body).contains("o=p2001 1 3 IN IP4"))
        try await p["2001"]!.ua.hangUp(leg.dialog.id)
        await shutdown(p, cti, server)
    }

    @Test func aCallHeldThroughCTIPastTheHoldRecallTimerRingsItsHolderWhoTakesItBack() async throws {
        var recall = PBXConfiguration.Recall()
        recall.holdSeconds = 1
        let (server, cti, client) = try await startCTI(recall: recall)
        let p = try await phones(["2001", "2002"], server: server)
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let leg = try await p["2001"]!.call("2002", server: server)
        _ = try await p["2002"]!.nextInvite()
        let id = leg.dialog.id.callID
        #expect(try await client.request("POST", "calls/\(id)/hold", body: #"{"party": "2001"}"#).status == 200)
        _ = try await p["2002"]!.nextInDialog(.invite)  // music
        _ = try await p["2001"]!.nextInDialog(.invite)  // inactive
        let recalled = try await events.next(type: "call.recalled")
        #expect(recalled["party"] == .string("2001") && recalled["reason"] == .string("hold") && recalled["call"] == .string(id))
        let ring = try await p["2001"]!.nextInvite()
        #expect(ring.headers[HeaderName("X-Holdfast-Recall")] == "from=2001;reason=hold")
        #expect(ring.from?.displayName == "Recall: on hold — Brook Taylor", "a phone that reads no header of ours still says why")
        #expect(ring.headers[.pAssertedIdentity]?.contains("Brook Taylor") == true && ring.headers[.pAssertedIdentity]?.contains("sip:2002@") == true)
        #expect(sdpText(ring.body).contains("m=audio 40004") && sdpText(ring.body).contains("a=sendrecv"), "the holder is offered the held party's own session, active")
        // 2001 answered (its behaviour answers at once): the held dialog ends, 2002 hears 2001 again.
        try await p["2001"]!.ended()
        let back = try await p["2002"]!.nextInDialog(.invite)
        #expect(sdpText(back.body).contains("m=audio 40002") && sdpText(back.body).contains("a=sendrecv"), "2002 is re-bridged to 2001's new dialog")
        #expect(try await events.next(type: "call.retrieved")["party"] == .string("2001"))
        let live = try await client.request("GET", "calls")
        #expect(live.array.first?.objectValue?["recall"]?.objectValue?["reason"] == .string("hold"), "\(live.array)")
        // Retrieving now is refused: the call is not held any more.
        #expect(try await client.request("POST", "calls/\(id)/retrieve", body: #"{"party": "2001"}"#)["error"] == .string("invalid_state"))
        #expect(try await client.request("DELETE", "calls/\(id)").status == 200)
        await events.close(); await shutdown(p, cti, server)
    }

    @Test func starSeventyKeyedByInfoParksTheOtherPartyAndDialingTheSlotTakesIt() async throws {
        var configuration = officeConfiguration()
        configuration.park = PBXConfiguration.Park()
        let server = try await CallServer.start(configuration: configuration,
                                                dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-pbx-\(UUID().uuidString)"))
        let cti = try await CTIServer.start(callServer: server, host: "127.0.0.1", port: 0, secret: ctiSecret)
        let p = try await phones(["2001", "2002", "2003"], server: server)
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let leg = try await p["2001"]!.call("2002", server: server)
        _ = try await p["2002"]!.nextInvite()
        for digit in ["*", "7", "0"] {
            let sent = try await p["2001"]!.ua.requestInDialog(leg.dialog.id, .info, body: Array("Signal=\(digit)\r\nDuration=160\r\n".utf8), contentType: .dtmfRelay)
            #expect(sent.statusCode == 200, "INFO \(digit): \(sent.statusCode)")
        }
        let parked = try await events.next(type: "park.changed")
        #expect(parked["slot"] == .string("701") && parked["parker"] == .string("2001"))
        let music = try await p["2002"]!.nextInDialog(.invite)
        #expect(sdpText(music.body).contains("a=sendonly") && !sdpText(music.body).contains("m=audio 40002"), "2002 waits with music")
        let announcement = try await p["2001"]!.nextInDialog(.invite)
        #expect(sdpText(announcement.body).contains("a=sendonly"), "2001 hears the slot")
        try await p["2001"]!.ended(within: 10)  // the announcement said its piece: 2001's leg ends
        // 2003 dials 701: answered with 2002's session, 2002 re-offered 2003's.
        let taken = try await p["2003"]!.call("701", server: server)
        #expect(sdpText(taken.remoteBody).contains("m=audio 40004"), "2003 talks to 2002")
        let rebridge = try await p["2002"]!.nextInDialog(.invite)
        #expect(sdpText(rebridge.body).contains("m=audio 40006") && sdpText(rebridge.body).contains("a=sendrecv"))
        let emptied = try await events.next(type: "park.changed")
        #expect(emptied["slot"] == .string("701") && emptied["call"] == .null)
        #expect(try await CTIClient(port: cti.port).request("GET", "park").array.allSatisfy { $0.objectValue?["call"] == nil }, "every slot free (no call)")
        try await p["2003"]!.ua.hangUp(taken.dialog.id)
        try await p["2002"]!.ended()
        await events.close(); await shutdown(p, cti, server)
    }

    @Test func blindTransferReleasesThePartyAndRebridgesTheOther() async throws {
        let (server, cti, client) = try await startCTI()
        let p = try await phones(["2001", "2002", "2003"], server: server)
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let leg = try await p["2001"]!.call("2002", server: server)
        _ = try await p["2002"]!.nextInvite()
        let id = leg.dialog.id.callID
        // 2002 transfers the caller to 2003.
        let transfer = try await client.request("POST", "calls/\(id)/transfer", body: #"{"party": "2002", "to": "2003"}"#)
        #expect(transfer.status == 202, "\(transfer.json)")
        try await p["2002"]!.ended()
        let music = try await p["2001"]!.nextInDialog(.invite)
        #expect(sdpText(music.body).contains("a=sendonly") && !sdpText(music.body).contains("m=audio 40004"),
                "while 2003 rings, the caller hears the music service (send-only), not silence")
        let offered = try await p["2003"]!.nextInvite()
        #expect(offered.body == phoneSDP("2001"), "2003 is offered the caller's own session")
        #expect(offered.from?.displayName == "Ada Lovelace")
        let rebridge = try await p["2001"]!.nextInDialog(.invite)
        #expect(sdpText(rebridge.body).contains("m=audio 40006") && sdpText(rebridge.body).contains("a=sendrecv"), "the caller now sends to 2003")
        let done = try await events.next(type: "call.transferred")
        #expect(done["callee"] == .string("2003") && done["rebridged"] == .bool(true))
        try await p["2001"]!.ua.hangUp(leg.dialog.id)
        try await p["2003"]!.ended()
        let record = try #require(try server.store.records(after: 0).last)
        #expect(record.callee == "2003")
        #expect(record.path == ["2002", "transfer", "2003"])
        await events.close(); await shutdown(p, cti, server)
    }

    @Test func consultTradeAndCompleteTheTransfer() async throws {
        let (server, cti, client) = try await startCTI()
        let p = try await phones(["2001", "2002", "2003"], server: server)
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let leg = try await p["2001"]!.call("2002", server: server)
        _ = try await p["2002"]!.nextInvite()
        let id = leg.dialog.id.callID
        let consulted = try await client.request("POST", "calls/\(id)/consult", body: #"{"party": "2001", "to": "2003"}"#)
        #expect(consulted.status == 201, "\(consulted.json)")
        #expect(consulted["consultationOf"] == .string(id))
        guard case .string(let consultation)? = consulted["call"] else { Issue.record("no consultation id"); return }
        #expect(sdpText(try await p["2002"]!.nextInDialog(.invite).body).contains("a=sendonly"), "the first call is held: 2002 hears music")
        #expect(sdpText(try await p["2001"]!.nextInDialog(.invite).body).contains("a=inactive"))
        let own = try await p["2001"]!.nextInvite()
        #expect(own.headers[HeaderName("Call-Info")]?.contains("answer-after=0") == true, "the consulting device is asked to answer by itself")
        #expect(try await p["2003"]!.nextInvite().body == phoneSDP("2001"))
        _ = try await events.next("the consultation answered") { $0["type"] == .string("call.answered") && $0["call"] == .string(consultation) }

        // Trade: back to 2002, 2003 waits.
        let traded = try await client.request("POST", "calls/\(id)/trade", body: #"{"party": "2001", "with": "\#(consultation)"}"#)
        #expect(traded.status == 200, "\(traded.json)")
        #expect(sdpText(try await p["2003"]!.nextInDialog(.invite).body).contains("a=sendonly"), "the consultation is held: 2003 hears music")
        #expect(sdpText(try await p["2002"]!.nextInDialog(.invite).body).contains("a=sendrecv"), "the first call is retrieved")

        // Complete: 2002 and 2003 talk, 2001 leaves both calls.
        let completed = try await client.request("POST", "calls/\(id)/complete", body: #"{"party": "2001", "consultation": "\#(consultation)"}"#)
        #expect(completed.status == 200, "\(completed.json)")
        #expect(completed["caller"] == .string("2003") && completed["callee"] == .string("2002"), "2003 took the place of 2001")
        try await p["2001"]!.ended()
        try await p["2001"]!.ended()
        let toStaying = try await p["2002"]!.nextInDialog(.invite)
        #expect(sdpText(toStaying.body).contains("m=audio 40006") && sdpText(toStaying.body).contains("a=sendrecv"), "2002 now sends to 2003")
        let toArriving = try await p["2003"]!.nextInDialog(.invite)
        #expect(sdpText(toArriving.body).contains("m=audio 40004") && sdpText(toArriving.body).contains("a=sendrecv"), "2003 now sends to 2002")
        // The joined call works end to end: 2002 hangs up, 2003 hears it.
        try await p["2002"]!.ua.hangUp(try #require(await p["2002"]!.behaviour.answeredDialogs.first))
        try await p["2003"]!.ended()
        let outcomes = try server.store.records(after: 0).map(\.outcome)
        #expect(outcomes == ["transferred", "answered"])
        await events.close(); await shutdown(p, cti, server)
    }

    @Test func callbackRingsTheRequesterWhenTheTargetIsFree() async throws {
        let (server, cti, client) = try await startCTI()
        let p = try await phones(["2001", "2002", "2003"], server: server)
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let busy = try await p["2003"]!.call("2002", server: server)
        _ = try await p["2002"]!.nextInvite()
        let requested = try await client.request("POST", "callbacks", body: #"{"from": "2001", "to": "2002"}"#)
        #expect(requested.status == 201, "\(requested.json)")
        #expect(try await client.request("GET", "callbacks").array.count == 1)
        #expect(try await client.request("POST", "callbacks", body: #"{"from": "2001", "to": "2999"}"#)["error"] == .string("invalid_target"))
        #expect(try await client.request("DELETE", "callbacks/nope")["error"] == .string("unknown_callback"))
        try await p["2003"]!.ua.hangUp(busy.dialog.id)
        let placed = try await events.next(type: "callback.placed")
        #expect(placed["callback"] == requested["id"])
        // Named for whoever follows the stream: the collaboration server tells the requester by it.
        #expect(placed["requester"] == .string("2001") && placed["target"] == .string("2002"), "\(placed)")
        #expect(try await p["2001"]!.nextInvite().from?.displayName == "Brook Taylor", "the requester's phone rings first")
        #expect(try await p["2002"]!.nextInvite().body == phoneSDP("2001"))
        #expect(try await client.request("GET", "callbacks").array.isEmpty)
        await events.close(); await shutdown(p, cti, server)
    }
}
