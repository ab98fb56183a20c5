// The softphone with real processes around it (call server, collaboration server): online, then
// limited functionality when the collaboration server is killed or frozen, the banner and the
// capability refusals, Try Now, automatic recovery, and a cold start with the server down.

import Foundation
import Testing
import TestSupport
import Wire
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct PhoneProcess {
    let user: String
    let apiPort: Int
    let dataDirectory: URL
    var process: ExternalProcess
    let token: String

    static func start(_ user: String, collab: CollabProcess, dataDirectory: URL? = nil, apiPort: Int? = nil, audio: [String] = [],
                      extra: String = "") async throws -> PhoneProcess {
        let apiPort = apiPort ?? ExternalProcess.freePort()
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-phone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("phone.yaml")
        try """
        user: "\(user)"
        password: pw\(user)
        collab: http://127.0.0.1:\(collab.port)
        api: { host: 127.0.0.1, port: \(apiPort) }
        \(extra)
        """.write(to: config, atomically: true, encoding: .utf8)
        let process = try ExternalProcess(MediaInteropTests.holdfast, ["phone", "--config", config.path, "--data-dir", directory.path] + audio,
                                          name: "phone-\(user)", workingDirectory: directory)
        try await process.waitForOutput("phone: \(user) API on", "phone \(user) to start")
        let token = try String(contentsOf: directory.appendingPathComponent("api-token"), encoding: .utf8)
        return PhoneProcess(user: user, apiPort: apiPort, dataDirectory: directory, process: process, token: token)
    }

    /// Every state the phone pushes on `/api/events`, from the current one on (a client opened
    /// after a change sees only what follows it).
    func states() -> SessionClient { SessionClient(port: apiPort, token: token, path: "/api/events", hello: nil) }

    func request(_ method: String, _ path: String, json: String? = nil) async throws -> (status: Int, json: [String: JSONValue]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(apiPort)/api/\(path)")!)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let json {
            request.httpBody = Data(json.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue ?? [:])
    }
}

extension PhoneProcess {
    /// The phone's calls now (GET /api/state).
    func calls() async throws -> [[String: JSONValue]] {
        try await request("GET", "state").json["calls"]?.arrayValue?.compactMap(\.objectValue) ?? []
    }

    func call(_ id: String) async throws -> [String: JSONValue]? { try await calls().first { $0["id"]?.stringValue == id } }

    /// Polls the call until `predicate` holds (its packet counters change without events).
    func waitForCall(_ id: String, _ what: String, within seconds: Double = 10,
                     where predicate: @escaping @Sendable ([String: JSONValue]) -> Bool) async throws -> [String: JSONValue] {
        try await withTimeout(seconds, what) {
            while true {
                if let call = try await self.call(id), predicate(call) { return call }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

extension [String: JSONValue] {
    var callState: String? { self["state"]?.stringValue }
    var packetsReceived: Int64 { self["media"]?.objectValue?["packetsReceived"]?.intValue ?? 0 }

    var mode: String? { self["server"]?.objectValue?["mode"]?.stringValue }
    var registered: Bool { self["registration"]?.objectValue?["state"] == "registered" }
    func capability(_ id: String) -> Bool? { self["capabilities"]?.objectValue?[id]?.boolValue }
    /// The state's recording counts: `pending`, `uploaded`, `discarded`.
    func recordings(_ key: String) -> Int64 { self["recordings"]?.objectValue?[key]?.intValue ?? -1 }
}

@Suite(.serialized, .realPeers) struct PhoneLimitedModeTests {
    @Test func killingTheCollaborationServerGivesLimitedModeAndItsReturnFullFunction() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        var collab = try await CollabProcess.start(pbx: pbx)
        let phone = try await PhoneProcess.start("2001", collab: collab)
        defer { phone.process.terminate() }
        let states = phone.states()
        let online = try await states.next("online and registered", within: 15) { $0.mode == "online" && $0.registered }
        #expect(online["banner"] == .null)
        #expect(online.capability("contacts.add") == true && online.capability("server.reconnect") == false)
        #expect(try await phone.request("POST", "contacts", json: #"{"name": "Plumber", "number": "020 7946 0999"}"#).status == 201)
        await states.close()

        let afterKill = phone.states()
        _ = try await afterKill.next("the current state", within: 5) { $0.mode == "online" }
        kill(collab.process.process.processIdentifier, SIGKILL)
        _ = try await collab.process.waitForExit(within: 10)
        let offline = try await afterKill.next("limited functionality", within: 3) { $0.mode == "offline" }
        #expect(offline["banner"] == "Connection Lost - Limited Functionality")
        #expect(offline.capability("call.make") == true, "calls do not need the collaboration server")
        #expect(offline.capability("contacts.add") == false && offline.capability("dnd.toggle") == false && offline.capability("server.reconnect") == true)
        #expect(offline["presence"]?.objectValue?["stale"] == true && offline["presence"]?.objectValue?["updatedAt"]?.stringValue != nil)
        #expect(offline["sendingCallsTo"]?.objectValue?["readOnly"] == true)
        let refused = try await phone.request("POST", "contacts", json: #"{"name": "Locksmith", "number": "020 7946 0555"}"#)
        #expect(refused.status == 409 && refused.json["error"] == "capability_unavailable" && refused.json["capability"] == "contacts.add"
                && refused.json["reason"] == "server_offline", "\(refused.json)")
        #expect(offline.registered, "the registration with the call server is untouched")
        let autoAnswer = try await phone.request("PUT", "phone-settings", json: #"{"autoAnswer": true}"#)
        #expect(autoAnswer.status == 409 && autoAnswer.json["capability"] == "autoAnswer.change", "\(autoAnswer.json)")
        let popup = try await phone.request("PUT", "phone-settings", json: #"{"showCallPopup": false}"#)
        #expect(popup.status == 200 && popup.json["showCallPopup"] == false, "a local preference: \(popup.json)")

        // The server comes back: the phone returns to full function by itself.
        collab = try await CollabProcess.start(pbx: pbx, dataDirectory: collab.dataDirectory, port: collab.port)
        defer { collab.process.terminate() }
        let back = try await afterKill.next("online again", within: 20) { $0.mode == "online" }
        #expect(back["banner"] == .null && back.capability("contacts.add") == true)
        let tryNowOnline = try await phone.request("POST", "server/reconnect")
        #expect(tryNowOnline.status == 409 && tryNowOnline.json["reason"] == "server_online", "\(tryNowOnline)")
        let contacts = try await phone.request("GET", "state")
        #expect(contacts.status == 200)
        await afterKill.close()
    }

    @Test func aFrozenServerIsCaughtByHeartbeatAndTheThawedOneReconnected() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let collab = try await CollabProcess.start(pbx: pbx)
        defer { kill(collab.process.process.processIdentifier, SIGCONT); collab.process.terminate() }
        let phone = try await PhoneProcess.start("2002", collab: collab)
        defer { phone.process.terminate() }
        let states = phone.states()
        _ = try await states.next("online", within: 15) { $0.mode == "online" }
        await states.close()
        let watch = phone.states()
        _ = try await watch.next("the current state", within: 5) { $0.mode == "online" }
        kill(collab.process.process.processIdentifier, SIGSTOP)
        // Heartbeats every 2 s, two unanswered: at most 6 s.
        let offline = try await watch.next("limited functionality by heartbeat", within: 10) { $0.mode == "offline" }
        #expect(offline["banner"] == "Connection Lost - Limited Functionality")
        kill(collab.process.process.processIdentifier, SIGCONT)
        _ = try await watch.next("online after the server thawed", within: 20) { $0.mode == "online" }
        await watch.close()
    }

    @Test func tryNowIsAcceptedOfflineAndReconnects() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        var collab = try await CollabProcess.start(pbx: pbx)
        let phone = try await PhoneProcess.start("2003", collab: collab)
        defer { phone.process.terminate() }
        let states = phone.states()
        _ = try await states.next("online", within: 15) { $0.mode == "online" }
        await states.close()
        let watch = phone.states()
        _ = try await watch.next("the current state", within: 5) { $0.mode == "online" }
        collab.process.terminate()
        _ = try await collab.process.waitForExit(within: 10)
        _ = try await watch.next("offline", within: 5) { $0.mode == "offline" }
        let whileDown = try await phone.request("POST", "server/reconnect")
        #expect(whileDown.status == 202, "Try Now is offered offline: \(whileDown)")
        collab = try await CollabProcess.start(pbx: pbx, dataDirectory: collab.dataDirectory, port: collab.port)
        defer { collab.process.terminate() }
        let again = try await phone.request("POST", "server/reconnect")
        #expect(again.status == 202 || again.json["reason"] == "server_online", "\(again)")
        _ = try await watch.next("online", within: 20) { $0.mode == "online" }
        await watch.close()
    }

    @Test func aPhoneStartedWhileTheServerIsDownUsesItsCacheAndRegisters() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let collab = try await CollabProcess.start(pbx: pbx)
        var phone = try await PhoneProcess.start("2004", collab: collab)
        let first = phone.states()
        _ = try await first.next("online and registered", within: 15) { $0.mode == "online" && $0.registered }
        await first.close()
        // Killed: no un-REGISTER, so the call server still holds its binding.
        kill(phone.process.process.processIdentifier, SIGKILL)
        _ = try await phone.process.waitForExit(within: 10)
        collab.process.terminate()
        _ = try await collab.process.waitForExit(within: 10)
        let attributes = try FileManager.default.attributesOfItem(atPath: phone.dataDirectory.appendingPathComponent("session.json").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600, "the cache holds credentials")

        phone = try await PhoneProcess.start("2004", collab: collab, dataDirectory: phone.dataDirectory, apiPort: phone.apiPort)
        defer { phone.process.terminate() }
        let states = phone.states()
        let cold = try await states.next("registered in limited mode", within: 15) { $0.mode == "offline" && $0.registered }
        #expect(cold.capability("call.make") == true)
        #expect(cold["name"] == "Dee Okafor", "from the cached provisioning")
        await states.close()
        // The same RFC 5626 instance from a new port: the binding is replaced, not doubled.
        let devices = try await CTIClient(port: pbx.ctiPort).request("GET", "users/2004/devices")
        #expect(devices.array.count == 1, "\(devices.json)")
    }
}
