// The collaboration server as a real process beside a real call server: settings reach the call
// server through CTI, presence follows real calls, and call history is complete even for calls
// made while the collaboration server was down (SIGKILL), read from the CDR cursor on return.

import Foundation
import Testing
import TestSupport
import Wire
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct CollabProcess {
    let port: Int
    let dataDirectory: URL
    var process: ExternalProcess

    static func start(pbx: PBXProcess, dataDirectory: URL? = nil, port: Int? = nil, secondary: PBXProcess? = nil,
                      borderProxy: Int? = nil, overTLS: Bool = false) async throws -> CollabProcess {
        let port = port ?? ExternalProcess.freePort()
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-collab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("collab.yaml")
        try """
        listen: { host: 127.0.0.1, port: \(port) }
        bcryptCost: 4
        callServer:
          primary: \(overTLS ? "{ host: 127.0.0.1, port: \(pbx.tlsPort ?? 0), transport: tls }" : "{ host: 127.0.0.1, port: \(pbx.port) }")
          secondary: \(secondary.map { "{ host: 127.0.0.1, port: \($0.port) }" } ?? "null")
          borderProxy: \(borderProxy.map { "{ host: 127.0.0.1, port: \($0) }" } ?? "null")
          tlsCA: \(overTLS ? pbx.caFile.path : "null")
          cti: { url: "http://127.0.0.1:\(pbx.ctiPort)", secret: \(ctiSecret) }
        users:
          - { extension: "2001", name: Ada Lovelace, password: pw2001 }
          - { extension: "2002", name: Brook Taylor, password: pw2002 }
          - { extension: "2003", name: Cy Young, password: pw2003 }
          - { extension: "2004", name: Dee Okafor, password: pw2004 }
        supervisors: ["2004"]
        """.write(to: config, atomically: true, encoding: .utf8)
        let process = try ExternalProcess(MediaInteropTests.holdfast, ["collab", "--config", config.path, "--data-dir", directory.path],
                                          name: "collab", workingDirectory: directory)
        try await process.waitForOutput("collab: http://", "the collaboration server to start")
        return CollabProcess(port: port, dataDirectory: directory, process: process)
    }

    func login(_ user: String) async throws -> String {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/login")!)
        request.httpMethod = "POST"
        request.httpBody = Data(#"{"user": "\#(user)", "password": "pw\#(user)"}"#.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (data, _) = try await URLSession.shared.data(for: request)
        guard let token = (try JSONDecoder().decode(JSONValue.self, from: data)).objectValue?["token"]?.stringValue else {
            throw ProcessFailure(description: "login of \(user) failed: \(String(decoding: data, as: UTF8.self))")
        }
        return token
    }

    /// A session, once the server has said welcome.
    func session(_ token: String, hello: [String: JSONValue] = ["type": "hello"]) async throws -> SessionClient {
        let session = SessionClient(port: port, token: token, hello: hello)
        _ = try await session.next("welcome") { $0["type"] == "welcome" }
        return session
    }
}

@Suite(.serialized, .realPeers) struct CollabInteropTests {
    /// Path 5000 "Sales" for agents 7001 and 7002.
    static let salesPath = """
        acd:
          groups: [ { name: Sales agents, agents: ["7001", "7002"] } ]
          paths: [ { number: "5000", name: Sales, groups: [Sales agents] } ]
        """

    /// 2001 calls 2002, who is on DND: a short call with a CDR (outcome busy).
    static func busyCall(_ pbx: PBXProcess, name: String) async throws {
        let call = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2002@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001", "--json"],
                                       name: name)
        _ = try await call.waitForExit(within: 30)
        #expect(call.outputTail().contains("486"), "2002 on DND answered busy: \(call.outputTail())")
    }

    @Test func historyIsCompleteAfterTheCollaborationServerWasKilledAndCameBack() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        var collab = try await CollabProcess.start(pbx: pbx)
        let brookToken = try await collab.login("2002")
        var brook = try await collab.session(brookToken)
        #expect(try await brook.call("settings.set", ["doNotDisturb": true])["result"]?.objectValue?["doNotDisturb"] == true)
        #expect(try await brook.call("contacts.add", ["name": "Locksmith", "number": "020 7946 0555"])["result"] != nil)
        #expect(try await brook.call("chat.send", ["to": "2001", "text": "kept through a crash"])["result"] != nil)

        try await Self.busyCall(pbx, name: "call-1")
        let first = try await brook.event("history.added", within: 10)
        #expect(first["kind"] == "missed" && first["remote"] == "2001" && first["outcome"] == "busy", "\(first)")
        await brook.close()

        // The collaboration server dies; a call happens while it is down.
        kill(collab.process.process.processIdentifier, SIGKILL)
        _ = try await collab.process.waitForExit(within: 10)
        try await Self.busyCall(pbx, name: "call-2")

        collab = try await CollabProcess.start(pbx: pbx, dataDirectory: collab.dataDirectory, port: collab.port)
        defer { collab.process.terminate() }
        brook = try await collab.session(brookToken)  // the token survived too
        let returned = brook
        let missed = try await withTimeout(15, "both calls in 2002's history") {
            while true {
                let entries = try await returned.call("history.list", ["kind": "missed"])["result"]?.arrayValue ?? []
                if entries.count >= 2 { return entries }
                _ = try? await returned.event("history.added", within: 2)
            }
        }
        #expect(missed.count == 2, "each call exactly once: \(missed)")
        #expect(Set(missed.compactMap { $0.objectValue?["cdr"]?.intValue }).count == 2)
        let contacts = try await brook.call("contacts.list")["result"]?.arrayValue ?? []
        #expect(contacts.compactMap { $0.objectValue?["name"]?.stringValue } == ["Locksmith"])
        let ada = try await collab.session(try await collab.login("2001"))
        let chat = try await ada.event("chat.message")
        #expect(chat["text"] == "kept through a crash")
        let outgoing = try await ada.call("history.list", ["kind": "outgoing"])["result"]?.arrayValue ?? []
        #expect(outgoing.count == 2, "2001's outgoing calls: \(outgoing)")
        await ada.close()
        await brook.close()
    }

    @Test func anAgentLogsInAndOutThroughTheSessionAndHearsOfItsChanges() async throws {
        let pbx = try await PBXProcess.start(extra: Self.salesPath)
        defer { pbx.process.terminate() }
        let collab = try await CollabProcess.start(pbx: pbx)
        defer { collab.process.terminate() }
        let ada = try await collab.session(try await collab.login("2001"))
        #expect(try await ada.call("acd.status")["result"] == .null, "no agent logged in at 2001 yet")
        let login = try await ada.call("acd.login", ["agent": "7001"])
        let agent = try #require(login["result"]?.objectValue, "\(login)")
        #expect(agent["status"] == "available" && agent["device"] == "2001" && agent["paths"] == [["number": "5000", "name": "Sales"]], "\(agent)")
        #expect(try await ada.event("acd.changed", within: 10)["status"] == "available")
        // Changed directly through CTI (a supervisor): the phone hears of it.
        _ = try await CTIClient(port: pbx.ctiPort).request("PUT", "agents/7001/state", body: #"{"state": "makeBusy", "reason": "lunch"}"#)
        let busy = try await ada.event("acd.changed", within: 10) { $0["status"] == "makeBusy" }
        #expect(busy["reason"] == "lunch")
        let brook = try await collab.session(try await collab.login("2002"))
        #expect(try await brook.call("acd.login", ["agent": "7001"])["error"]?.objectValue?["error"] == "agent_logged_in", "7001 is at 2001")
        #expect(try await brook.call("acd.logout")["error"]?.objectValue?["error"] == "not_an_agent")
        let out = try await ada.call("acd.logout")
        #expect(out["result"]?.objectValue?["status"] == "loggedOut", "\(out)")
        #expect(try await ada.event("acd.changed", within: 10) { $0["status"] == "loggedOut" }["device"] == .null, "the logout reaches the user it was at")
        await ada.close()
        await brook.close()
    }

    @Test func aSupervisorsWallboardShowsEveryPathAndAgentLiveAndOthersAreRefused() async throws {
        let pbx = try await PBXProcess.start(extra: Self.salesPath)
        defer { pbx.process.terminate() }
        let collab = try await CollabProcess.start(pbx: pbx)
        defer { collab.process.terminate() }
        func get(_ path: String, token: String?) async throws -> (Int, Data) {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(collab.port)\(path)")!)
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
        }
        let (pageStatus, page) = try await get("/wallboard", token: nil)
        #expect(pageStatus == 200 && String(decoding: page, as: UTF8.self).contains("Contact center wallboard"), "the page is served to anyone; its data is not")
        #expect(try await get("/api/v1/wallboard", token: nil).0 == 401)
        let (refused, why) = try await get("/api/v1/wallboard", token: try await collab.login("2001"))
        let refusal = try JSONDecoder().decode(JSONValue.self, from: why)
        #expect(refused == 403 && refusal.objectValue?["error"] == "not_supervisor", "2001 is no supervisor: \(refusal)")
        let token = try await collab.login("2004")
        let (status, body) = try await get("/api/v1/wallboard", token: token)
        let first = try JSONDecoder().decode(JSONValue.self, from: body)
        #expect(status == 200 && first.objectValue?["callServer"] == "connected", "\(first)")
        #expect(first.objectValue?["paths"]?.arrayValue?.first?.objectValue?["number"] == "5000" && first.objectValue?["agents"]?.arrayValue?.count == 2, "\(first)")
        // Live: an agent logs in, a caller waits and hangs up, each pushed to the board.
        let board = SessionClient(port: collab.port, token: token, path: "/api/v1/wallboard/live", hello: nil)
        _ = try await board.next("the first snapshot") { $0["paths"] != nil }
        let caller = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5000@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                      "--hangup-after", "3", "--json"], name: "wallboard-caller")
        let waiting = try await board.next("a caller waiting on 5000", within: 10) { $0["paths"]?.arrayValue?.first?.objectValue?["waiting"] == 1 }
        let longest = waiting["paths"]?.arrayValue?.first?.objectValue?["longestWait"]
        #expect(longest != nil && longest != .null, "the longest wait is shown: \(waiting)")
        _ = try await caller.waitForExit(within: 20)
        let abandoned = try await board.next("the caller counted abandoned", within: 10) { $0["paths"]?.arrayValue?.first?.objectValue?["abandoned"] == 1 }
        #expect(abandoned["paths"]?.arrayValue?.first?.objectValue?["waiting"] == 0)
        _ = try await CTIClient(port: pbx.ctiPort).request("POST", "agents/7002/login", body: #"{"device": "2003"}"#)
        let agents = try await board.next("7002 shown available", within: 10) { snapshot in
            snapshot["agents"]?.arrayValue?.contains { $0.objectValue?["agent"] == "7002" && $0.objectValue?["status"] == "available" } == true
        }
        #expect(agents["callServer"] == "connected")
        // The call server goes: the board says its figures are the last ones.
        pbx.process.terminate()
        _ = try await board.next("the board marked unreachable", within: 15) { $0["callServer"] == "unreachable" }
        await board.close()
    }

    @Test func settingsChangedOnASessionAreKeptByTheCallServerAndAnnounced() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let collab = try await CollabProcess.start(pbx: pbx)
        defer { collab.process.terminate() }
        let ada = try await collab.session(try await collab.login("2001"))
        let set = try await ada.call("settings.set", ["forwardNoAnswer": "2003", "noAnswerSeconds": 10])
        #expect(set["result"]?.objectValue?["forwardNoAnswer"] == "2003", "\(set)")
        let announced = try await ada.event("settings.changed", within: 10)
        #expect(announced["forwardNoAnswer"] == "2003")
        let stored = try await CTIClient(port: pbx.ctiPort).request("GET", "users/2001/features")
        #expect(stored["forwardNoAnswer"] == "2003" && stored["noAnswerSeconds"] == 10, "the call server keeps it: \(stored.json)")
        // The call server's refusals come back named.
        let toNobody = try await ada.call("settings.set", ["forwardAlways": "2999"])
        #expect(toNobody["error"]?.objectValue?["error"] == "invalid_target", "\(toNobody)")
        let noDevice = try await ada.call("call.make", ["to": "2002"])
        #expect(noDevice["error"]?.objectValue?["error"] == "device_unavailable", "2001 has no phone registered: \(noDevice)")
        let noCall = try await ada.call("call.transfer", ["call": "no-such-call", "to": "2003"])
        #expect(noCall["error"]?.objectValue?["error"] == "unknown_call", "\(noCall)")
        await ada.close()
    }

    @Test func presenceShowsOnThePhoneDuringARealCall() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let collab = try await CollabProcess.start(pbx: pbx)
        defer { collab.process.terminate() }
        let ada = try await collab.session(try await collab.login("2001"))
        // The event stream is open before baresip starts, so its registration cannot be missed.
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true)
        let brookProcess = try brook.start(seconds: 12)
        defer { brookProcess.terminate() }
        _ = try await events.next(type: "devices.changed", within: 10)
        await events.close()
        let call = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2002@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                    "--hangup-after", "2", "--json"], name: "call-presence")
        let busy = try await ada.event("presence.changed", within: 15) { $0["user"] == "2002" && $0["onThePhone"] == true }
        #expect(busy["state"] == "offline", "2002 has no collaboration session, but is on the phone")
        _ = try await ada.event("presence.changed", within: 15) { $0["user"] == "2002" && $0["onThePhone"] == false }
        _ = try await call.waitForExit(within: 20)
        await ada.close()
    }
}
