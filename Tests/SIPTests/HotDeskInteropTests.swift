// Hot desking against real phones: a baresip logs hot-desk user 2101 in by feature code (*1 2101 #
// PIN #) and the call server rings it for 2101; the login survives a SIGKILL of the call server;
// CTI refuses a wrong PIN and locks after three; *2 logs out.

import CallServer
import Foundation
import TestSupport
import Testing
import Wire

@Suite(.serialized, .realPeers) struct HotDeskInteropTests {
    static let users = #"  - { extension: "2101", name: Hot Desk One, hotDeskPIN: "8642" }"#

    func hotDesk(_ cti: CTIClient) async throws -> [String: JSONValue] {
        let reply = try await cti.request("GET", "hotdesk")
        return reply.array.first { $0.objectValue?["user"]?.stringValue == "2101" }?.objectValue ?? [:]
    }

    @Test func aBaresipLogsInByFeatureCodeAndRingsForTheHotDeskUserEvenAfterARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-pbx-\(UUID().uuidString)")
        var pbx = try await PBXProcess.start(dataDirectory: directory, users: Self.users)
        defer { pbx.process.terminate() }
        var events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let cy = try Baresip(number: "2003", pbxPort: pbx.port, sourceFrequency: 1300, autoAnswer: true)
        let cyProcess = try cy.start(seconds: 60, commands: ["/dial sip:*12101%238642%23@127.0.0.1:\(pbx.port)"])
        defer { cyProcess.terminate() }
        let changed = try await events.next(type: "hotdesk.changed", within: 15)
        #expect(changed["user"] == .string("2101") && changed["device"] == .string("2003"), "\(changed)")
        let cti = CTIClient(port: pbx.ctiPort)
        let shown = try await hotDesk(cti)
        #expect(shown["loggedIn"] == .bool(true) && shown["device"] == .string("2003"), "\(shown)")
        // The announcement answered the code and hung up: the CDR has the call to the code.
        _ = try await events.next("the feature code's call to end", within: 15) { $0["type"]?.stringValue == "call.ended" }
        // A SIGKILL and a restart on the same data: 2101 is still at 2003's phone.
        kill(pbx.process.process.processIdentifier, SIGKILL)
        _ = try? await pbx.process.waitForExit(within: 10)
        await events.close()
        pbx = try await PBXProcess.start(dataDirectory: directory, port: pbx.port, ctiPort: pbx.ctiPort, users: Self.users)
        events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        #expect(try await hotDesk(cti)["device"] == .string("2003"), "the login is durable")
        // A call to 2101 rings baresip 2003, which answers.
        let caller = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2101@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                      "--hangup-after", "2", "--json"], name: "call-2101")
        let answered = try await events.next(type: "call.answered", within: 15)
        #expect(answered["callee"] == .string("2101"), "\(answered)")
        _ = try await caller.waitForExit(within: 30)
        // Bad input through CTI: a wrong PIN names the field; three lock the user out, the right PIN too.
        let wrong = try await cti.request("POST", "hotdesk/2101/login", body: #"{"pin": "0000", "device": "2004"}"#)
        #expect(wrong.status == 422 && wrong["error"] == .string("wrong_pin") && wrong["field"] == .string("pin"), "\(wrong.json)")
        let stranger = try await cti.request("POST", "hotdesk/2001/login", body: #"{"pin": "8642", "device": "2004"}"#)
        #expect(stranger.status == 404 && stranger["error"] == .string("not_hot_desk"))
        _ = try await cti.request("POST", "hotdesk/2101/login", body: #"{"pin": "1111", "device": "2004"}"#)
        let third = try await cti.request("POST", "hotdesk/2101/login", body: #"{"pin": "2222", "device": "2004"}"#)
        #expect(third.status == 409 && third["error"] == .string("locked"), "\(third.json)")
        let right = try await cti.request("POST", "hotdesk/2101/login", body: #"{"pin": "8642", "device": "2004"}"#)
        #expect(right.status == 409 && right["error"] == .string("locked"), "the right PIN is refused while locked: \(right.json)")
        #expect(try await hotDesk(cti)["device"] == .string("2003"), "a refused login moves nothing")
        // *2 from 2003's baresip logs it out (the first run ends first: one process per SIP port).
        cyProcess.terminate()
        _ = try? await cyProcess.waitForExit(within: 10)
        let logout = try cy.start(seconds: 15, commands: ["/dial sip:*2@127.0.0.1:\(pbx.port)"])
        defer { logout.terminate() }
        let out = try await events.next(type: "hotdesk.changed", within: 15)
        #expect(out["user"] == .string("2101") && out["device"] == .null && out["previous"] == .string("2003"), "\(out)")
        #expect(try await hotDesk(cti)["loggedIn"] == .bool(false))
        await events.close()
    }
}
