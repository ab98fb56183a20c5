// The CTI API over real HTTP and WebSocket on loopback: authentication, JSON errors that name
// the problem, features (stored durably and announced), devices, live calls, CDRs from a cursor,
// and the event stream with resume.

import CTI
import Foundation
import TestSupport
import Testing
@testable import CallServer

func startCTI(ringTimeout: Double = 20, recall: PBXConfiguration.Recall = .init()) async throws -> (CallServer, CTIServer, CTIClient) {
    let (server, _) = try await startServer(ringTimeout: ringTimeout, recall: recall)
    let cti = try await CTIServer.start(callServer: server, host: "127.0.0.1", port: 0, secret: ctiSecret)
    return (server, cti, CTIClient(port: cti.port))
}

@Suite(.serialized, .realPeers) struct CTITests {
    @Test func everyRequestNeedsTheSecretAndErrorsAreJSON() async throws {
        let (server, cti, client) = try await startCTI()
        let missing = try await client.request("GET", "status", secret: "wrong")
        #expect(missing.status == 401)
        #expect(missing["error"] == .string("unauthorized"))
        let status = try await client.request("GET", "status")
        #expect(status.status == 200)
        #expect(status["server"] == .string("holdfast-pbx"))
        let nowhere = try await client.request("GET", "nowhere")
        #expect(nowhere.status == 404)
        #expect(nowhere["error"] == .string("not_found"))
        #expect(nowhere["message"]?.stringValue?.contains("/cti/v1/nowhere") == true)
        let unknown = try await client.request("GET", "users/2999/features")
        #expect(unknown.status == 404)
        #expect(unknown["error"] == .string("unknown_user"))
        let refused = EventStreamClient(port: cti.port, secret: "wrong")
        let outcome = try await withTimeout(5, "the refused event stream to end") { await refused.result }
        #expect(throws: (any Error).self, "the event stream refuses a wrong secret") { try outcome.get() }
        await cti.shutdown(); await server.shutdown()
    }

    @Test func featuresAreValidatedStoredAndAnnounced() async throws {
        let (server, cti, client) = try await startCTI()
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let set = try await client.request("PATCH", "users/2002/features", body: #"{"doNotDisturb": true, "forwardBusy": "2003", "noAnswerSeconds": 12}"#)
        #expect(set.status == 200)
        #expect(set["doNotDisturb"] == .bool(true))
        #expect(set["forwardBusy"] == .string("2003"))
        #expect(try server.store.features("2002").noAnswerSeconds == 12, "stored in the durable store")
        let announced = try await events.next(type: "features.changed")
        #expect(announced["user"] == .string("2002") && announced["doNotDisturb"] == .bool(true))
        let cleared = try await client.request("PATCH", "users/2002/features", body: #"{"forwardBusy": null}"#)
        #expect(cleared["forwardBusy"] == .null)
        #expect(cleared["doNotDisturb"] == .bool(true), "fields not named are kept")
        let read = try await client.request("GET", "users/2002/features")["noAnswerSeconds"]
        #expect(read == .double(12) || read == .int(12))

        let bad: [(String, Int, String)] = [
            (#"{"forwardAlways": "2999"}"#, 422, "invalid_target"),
            (#"{"forwardAlways": "2002"}"#, 422, "invalid_target"),
            (#"{"noAnswerSeconds": 1}"#, 422, "invalid_value"),
            (#"{"doNotDisturb": "yes"}"#, 400, "invalid_value"),
            (#"{"dnd": true}"#, 400, "unknown_field"),
            (#"{"doNotDisturb": tru"#, 400, "invalid_json"),
            (#"[true]"#, 400, "invalid_json"),
        ]
        for (body, status, code) in bad {
            let reply = try await client.request("PATCH", "users/2002/features", body: body)
            #expect(reply.status == status, "\(body)")
            #expect(reply["error"] == .string(code), "\(body): \(reply.json)")
            #expect(reply["message"]?.stringValue?.isEmpty == false)
        }
        #expect(try server.store.features("2002").forwardAlways == nil, "a refused change changes nothing")
        await events.close(); await cti.shutdown(); await server.shutdown()
    }

    @Test func devicesCallsAndCDRsFromACursor() async throws {
        let (server, cti, client) = try await startCTI()
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let ada = try await Phone.register("2001", server: server)
        let brook = try await Phone.register("2002", server: server)
        #expect(try await events.next(type: "devices.changed")["user"] == .string("2001"))
        let devices = try await client.request("GET", "users/2002/devices")
        guard devices.array.count == 1, case .object(let listed) = devices.array[0], let name = listed["device"]?.stringValue else {
            Issue.record("2002 should have one device: \(devices.array)")
            return
        }
        #expect(listed["selected"] == .bool(false))
        _ = try await client.request("PATCH", "users/2002/features", body: #"{"selectedDevice": "\#(name)"}"#)
        let selected = try await client.request("GET", "users/2002/devices")
        guard case .object(let device)? = selected.array.first else { Issue.record("no device"); return }
        #expect(device["selected"] == .bool(true))

        for _ in 0..<3 {
            let leg = try await ada.call("2002", server: server)
            #expect(try await events.next(type: "call.answered")["callee"] == .string("2002"))
            let live = try await client.request("GET", "calls")
            #expect(live.array.count == 1)
            try await ada.ua.hangUp(leg.dialog.id)
            let ended = try await events.next(type: "call.ended")
            #expect(ended["outcome"] == .string("answered"))
            #expect(ended["cdr"] != nil && ended["cdr"] != .null)
        }
        let first = try await client.request("GET", "cdr?after=0&limit=2")
        guard case .array(let records)? = first["records"], case .int(let last)? = first["last"] else { Issue.record("bad page \(first.json)"); return }
        #expect(records.count == 2)
        let rest = try await client.request("GET", "cdr?after=\(last)")
        guard case .array(let more)? = rest["records"] else { Issue.record("bad page"); return }
        #expect(more.count == 1, "the cursor gives exactly the records after it")
        #expect(try await client.request("GET", "cdr?after=-1").status == 400)
        #expect(try await client.request("GET", "cdr?limit=0")["error"] == .string("invalid_value"))
        await events.close(); await ada.shutdown(); await brook.shutdown(); await cti.shutdown(); await server.shutdown()
    }

    @Test func eventStreamResumesFromASequenceOrAsksForResync() async throws {
        let (server, cti, client) = try await startCTI()
        let first = EventStreamClient(port: cti.port)
        let hello = try await first.next(type: "hello")
        #expect(hello["resumed"] == .bool(false), "no position given: a fresh consumer")
        guard case .string(let epoch)? = hello["epoch"] else { Issue.record("no epoch"); return }
        _ = try await client.request("PATCH", "users/2001/features", body: #"{"doNotDisturb": true}"#)
        guard case .int(let seen)? = try await first.next(type: "features.changed")["sequence"] else { Issue.record("no sequence"); return }
        await first.close()
        // Missed while away.
        _ = try await client.request("PATCH", "users/2001/features", body: #"{"doNotDisturb": false}"#)
        _ = try await client.request("PATCH", "users/2003/features", body: #"{"forwardAlways": "2004"}"#)
        let resumed = EventStreamClient(port: cti.port, query: "?after=\(seen)&epoch=\(epoch)")
        #expect(try await resumed.next(type: "hello")["resumed"] == .bool(true))
        let missed1 = try await resumed.next(type: "features.changed")
        let missed2 = try await resumed.next(type: "features.changed")
        #expect(missed1["sequence"] == .int(seen + 1) && missed1["doNotDisturb"] == .bool(false))
        #expect(missed2["sequence"] == .int(seen + 2) && missed2["user"] == .string("2003"))
        await resumed.close()
        // A position from another epoch (a restarted server) cannot be resumed.
        let stale = EventStreamClient(port: cti.port, query: "?after=\(seen)&epoch=another")
        #expect(try await stale.next(type: "hello")["resumed"] == .bool(false))
        await stale.close()
        let badCursor = try await client.request("GET", "events?after=x")
        #expect(badCursor.status == 400)
        await cti.shutdown(); await server.shutdown()
    }
}
