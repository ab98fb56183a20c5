// ACD agents through CTI, end to end over HTTP: login, state, wrap-up, logout, their refusals,
// the agent.changed events, and a login that survives a restart.

import CTI
import Foundation
import TestSupport
import Testing
import Wire
@testable import CallServer

@Suite(.serialized, .realPeers) struct AgentCTITests {
    func start(_ directory: URL) async throws -> (CallServer, CTIServer, CTIClient) {
        var configuration = officeConfiguration()
        configuration.acd = ContactCenterTests.configuration
        let server = try await CallServer.start(configuration: configuration, dataDirectory: directory)
        let cti = try await CTIServer.start(callServer: server, host: "127.0.0.1", port: 0, secret: ctiSecret)
        return (server, cti, CTIClient(port: cti.port))
    }

    @Test func anAgentLogsInChangesStateAndLogsOut() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-acd-\(UUID().uuidString)")
        let (server, cti, client) = try await start(directory)
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")

        let login = try await client.request("POST", "agents/7001/login", body: #"{"device": "2002"}"#)
        #expect(login.status == 200, "\(login.json)")
        #expect(login["status"] == .string("available") && login["device"] == .string("2002") && login["groups"] == .array(["Sales agents"]))
        let changed = try await events.next(type: "agent.changed")
        #expect(changed["agent"] == .string("7001") && changed["status"] == .string("available") && changed["device"] == .string("2002"))

        let elsewhere = try await client.request("POST", "agents/7001/login", body: #"{"device": "2003"}"#)
        #expect(elsewhere.status == 409 && elsewhere["error"] == .string("agent_logged_in") && elsewhere["device"] == .string("2002"),
                "a second login names the device the agent is at: \(elsewhere.json)")
        #expect(try await client.request("POST", "agents/7001/login", body: #"{"device": "2002"}"#).status == 200, "the same login again is fine")

        let busy = try await client.request("PUT", "agents/7001/state", body: #"{"state": "makeBusy", "reason": "lunch"}"#)
        #expect(busy["status"] == .string("makeBusy") && busy["reason"] == .string("lunch"))
        let available = try await client.request("PUT", "agents/7001/state", body: #"{"state": "available"}"#)
        #expect(available["status"] == .string("available") && available["reason"] == .null)

        let agents = try await client.request("GET", "agents")
        #expect(agents.array.count == 4)
        let paths = try await client.request("GET", "paths")
        guard case .object(let sales)? = paths.array.first else { Issue.record("no paths: \(paths.json)"); return }
        #expect(sales["number"] == .string("5000") && sales["agentsAvailable"] == .int(1) && sales["waiting"] == .int(0))

        let out = try await client.request("POST", "agents/7001/logout")
        #expect(out["status"] == .string("loggedOut") && out["device"] == .null)
        let log = try server.store.queueLog(after: 0).map(\.entry.kind)
        #expect(log == [.agentLogin, .agentState, .agentState, .agentLogout], "\(log)")
        // The same lines through CTI, from a cursor.
        let lines = try await client.request("GET", "queue-log?after=1")
        #expect(lines.array.compactMap { $0.objectValue?["event"]?.stringValue } == ["agentState", "agentState", "agentLogout"], "\(lines.array)")
        #expect(lines.array.first?.objectValue?["agent"] == .string("7001"))
        // Every field present, null when unset; the time to the millisecond, and it reads back.
        let first = try #require(lines.array.first?.objectValue)
        #expect(first["path"] == .null && first["call"] == .null, "\(first)")
        let time = try #require(first["time"]?.stringValue)
        #expect(time.range(of: #"\.\d{3}Z$"#, options: .regularExpression) != nil, "\(time)")
        let decoded = try JSONValue.object(first).decode(QueueLogLine.self)
        #expect(abs(decoded.time.timeIntervalSince1970 - (try server.store.queueLog(after: 1).first?.entry.time ?? 0)) < 0.001)
        #expect(try await client.request("GET", "queue-log?limit=0")["field"] == .string("limit"))
        await events.close(); await cti.shutdown(); await server.shutdown()
    }

    @Test func refusalsNameTheFieldOrTheReason() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-acd-\(UUID().uuidString)")
        let (server, cti, client) = try await start(directory)
        let cases: [(String, String, String?, Int, String)] = [
            ("POST", "agents/7999/login", #"{"device": "2002"}"#, 404, "unknown_agent"),
            ("POST", "agents/7001/login", #"{"device": "2999"}"#, 422, "invalid_value"),
            ("POST", "agents/7001/login", #"{"desk": "2002"}"#, 400, "unknown_field"),
            ("POST", "agents/7001/logout", nil, 409, "agent_logged_out"),
            ("PUT", "agents/7001/state", #"{"state": "away"}"#, 400, "invalid_value"),
            ("PUT", "agents/7001/state", #"{"state": "available"}"#, 409, "agent_logged_out"),
            ("POST", "agents/7001/wrap-up/end", nil, 409, "invalid_state"),
        ]
        for (method, path, body, status, code) in cases {
            let reply = try await client.request(method, path, body: body)
            #expect(reply.status == status && reply["error"] == .string(code), "\(method) \(path) \(body ?? ""): \(reply.json)")
        }
        _ = try await client.request("POST", "agents/7002/login", body: #"{"device": "2003"}"#)
        let nap = try await client.request("PUT", "agents/7002/state", body: #"{"state": "makeBusy", "reason": "nap"}"#)
        #expect(nap.status == 422 && nap["field"] == .string("reason"), "\(nap.json)")
        let noReason = try await client.request("PUT", "agents/7002/state", body: #"{"state": "makeBusy"}"#)
        #expect(noReason.status == 422 && noReason["field"] == .string("reason"), "\(noReason.json)")
        let notWrapping = try await client.request("POST", "agents/7002/wrap-up/end")
        #expect(notWrapping.status == 409 && notWrapping["error"] == .string("invalid_state"))
        await cti.shutdown(); await server.shutdown()
    }

    @Test func aLoginSurvivesARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-acd-\(UUID().uuidString)")
        do {
            let (server, cti, client) = try await start(directory)
            _ = try await client.request("POST", "agents/7003/login", body: #"{"device": "2004"}"#)
            _ = try await client.request("PUT", "agents/7003/state", body: #"{"state": "makeBusy", "reason": "meeting"}"#)
            await cti.shutdown(); await server.shutdown()
        }
        let (server, cti, client) = try await start(directory)
        let agent = try await client.request("GET", "agents/7003")
        #expect(agent["status"] == .string("makeBusy") && agent["reason"] == .string("meeting") && agent["device"] == .string("2004"),
                "logged in, as it was, after the restart: \(agent.json)")
        await cti.shutdown(); await server.shutdown()
    }
}
