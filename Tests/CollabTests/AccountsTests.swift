// Login, provisioning, tokens and their errors, over the real HTTP API.

import Collab
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HummingbirdTesting
import Testing
import TestSupport
import Synchronization
import Wire

@Suite struct AccountsTests {
    @Test func loginReturnsATokenAndEverythingAPhoneNeedsToCache() async throws {
        try await withCollab { _, http in
            let reply = try await http.send("POST", "api/v1/login", json: #"{"user": "2001", "password": "pw2001"}"#)
            #expect(reply.status == 200, "\(reply.json)")
            let login = try JSONValue.object(reply.json).decode(LoginReply.self)
            #expect(login.token.count >= 40)
            #expect(login.provisioning.sip == SIPAccount(username: "2001", password: "pw2001", domain: "127.0.0.1",
                                                          primary: .init(host: "127.0.0.1", port: 5060), secondary: .init(host: "127.0.0.1", port: 5062),
                                                          borderProxy: nil))
            #expect(login.provisioning.directory.entries.map(\.number) == ["2001", "2002", "2003", "+44 20 7946 0000"])
            #expect(login.provisioning.heartbeatSeconds == 2)
            #expect(login.provisioning.settings == nil, "no call server in this test: settings are absent, not invented")
            #expect(login.provisioning.presence.count == 3)
            let provisioning = try await http.send("GET", "api/v1/provisioning", token: login.token)
            #expect(provisioning.status == 200 && provisioning.json["user"] == "2001")
        }
    }

    @Test func wrongPasswordsAreRefusedThenRateLimitedWithRetryAfter() async throws {
        var configuration = Office.configuration()
        configuration.loginAttempts = 3
        try await withCollab(configuration) { _, http in
            for _ in 0..<3 {
                let wrong = try await http.send("POST", "api/v1/login", json: #"{"user": "2002", "password": "guess"}"#)
                #expect(wrong.status == 401 && wrong.json["error"] == "invalid_credentials", "\(wrong.json)")
            }
            let limited = try await http.send("POST", "api/v1/login", json: #"{"user": "2002", "password": "pw2002"}"#)
            #expect(limited.status == 429 && limited.json["error"] == "too_many_attempts", "the guessing address waits, right password or not: \(limited.json)")
            #expect(Int(limited.json["retryAfter"]?.stringValue ?? "") ?? 0 > 0)
            // Another user is not affected.
            _ = try await http.login("2003")
        }
    }

    /// `curl --interface 127.0.0.2`: a login from another loopback address.
    static func loginFrom(_ address: String, port: Int, user: String, password: String) async throws -> Int {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", address, "-H", "Content-Type: application/json",
                          "--data", #"{"user": "\#(user)", "password": "\#(password)"}"#, "http://127.0.0.1:\(port)/api/v1/login"]
        let out = Pipe()
        curl.standardOutput = out
        try curl.run()
        let data = try await withTimeout(20, "curl to answer") { out.fileHandleForReading.readDataToEndOfFile() }
        curl.waitUntilExit()
        return Int(String(decoding: data, as: UTF8.self)) ?? 0
    }

    @Test func someoneElsesGuessesDoNotLockTheRealUserOut() async throws {
        var configuration = Office.configuration()
        configuration.loginAttempts = 3
        try await withCollab(configuration) { _, http in
            for _ in 0..<4 { _ = try await http.send("POST", "api/v1/login", json: #"{"user": "2002", "password": "guess"}"#) }
            #expect(try await http.send("POST", "api/v1/login", json: #"{"user": "2002", "password": "pw2002"}"#).status == 429, "the guesser at 127.0.0.1 waits")
            #expect(try await Self.loginFrom("127.0.0.2", port: http.port, user: "2002", password: "pw2002") == 200, "2002 at 127.0.0.2 still logs in")
        }
    }

    @Test func namesAndPasswordsWithNULOrControlCharactersAreRefusedAndCostNoMemory() async throws {
        try await withCollab { core, http in
            // SQLite would cut "2001\u0000…" to 2001, with a fresh failure counter for each variant.
            for (json, field) in [(#"{"user": "2001\u0000", "password": "pw2001"}"#, "user"), (#"{"user": "2001\u0000\u0000", "password": "x"}"#, "user"),
                                  (#"{"user": "2001\n2002", "password": "x"}"#, "user"), (#"{"user": "2001", "password": "pw2001\u0000junk"}"#, "password"),
                                  (#"{"user": "\#(String(repeating: "9", count: 5000))", "password": "x"}"#, "user")] {
                let refused = try await http.send("POST", "api/v1/login", json: json)
                #expect(refused.status == 400 && refused.json["error"] == "invalid_value" && refused.json["field"] == .string(field), "\(json.prefix(60)): \(refused.json)")
            }
            // Made-up users cost one entry for the address, not one each.
            for n in 0..<60 { _ = try await http.send("POST", "api/v1/login", json: #"{"user": "9\#(n)", "password": "x"}"#) }
            #expect(core.loginFailureKeys <= 1, "\(core.loginFailureKeys) keys held for 60 made-up users from one address")
        }
    }

    @Test func aLoginMustBeJSONFromThisSite() async throws {
        try await withCollab { _, http in
            let plain = try await http.send("POST", "api/v1/login", json: #"{"user": "2001", "password": "pw2001"}"#, contentType: "text/plain")
            #expect(plain.status == 415 && plain.json["error"] == "unsupported_media_type", "a cross-site text/plain POST: \(plain.json)")
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(http.port)/api/v1/login")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("https://evil.example", forHTTPHeaderField: "Origin")
            request.httpBody = Data(#"{"user": "2001", "password": "pw2001"}"#.utf8)
            let (_, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 403, "another site's page")
            request.setValue("http://127.0.0.1:\(http.port)", forHTTPHeaderField: "Origin")
            let (_, same) = try await URLSession.shared.data(for: request)
            #expect((same as? HTTPURLResponse)?.statusCode == 200, "the server's own page (the wallboard) logs in")
        }
    }

    @Test func logoutEndsTheSessionsOpenedWithTheTokenAndQueryTokensOnlyOpenWebSockets() async throws {
        try await withCollab { _, http in
            let token = try await http.login("2001")
            #expect(try await http.send("GET", "api/v1/provisioning?token=\(token)").status == 401, "?token= is for WebSocket upgrades only")
            let session = SessionClient(port: http.port, token: token)
            _ = try await session.next("welcome") { $0["type"] == "welcome" }
            let other = SessionClient(port: http.port, token: try await http.login("2001"))
            _ = try await other.next("welcome") { $0["type"] == "welcome" }
            #expect(try await http.send("POST", "api/v1/logout", token: token).status == 200)
            _ = try? await session.next("nothing more", within: 5) { _ in false }
            #expect(await session.isClosed, "the session opened with the token ended with it")
            #expect(try await other.call("contacts.list")["result"] != nil, "a session of another login goes on")
            await other.close()
        }
    }

    @Test func badRequestsGetJSONErrorsNamingTheField() async throws {
        try await withCollab { _, http in
            let missing = try await http.send("POST", "api/v1/login", json: #"{"user": "2001"}"#)
            #expect(missing.status == 400 && missing.json["error"] == "missing_field" && missing.json["field"] == "password")
            let unknown = try await http.send("POST", "api/v1/login", json: #"{"user": "2001", "password": "pw2001", "pin": 1}"#)
            #expect(unknown.status == 400 && unknown.json["error"] == "unknown_field" && unknown.json["field"] == "pin")
            let garbage = try await http.send("POST", "api/v1/login", json: "{not json")
            #expect(garbage.status == 400 && garbage.json["error"] == "invalid_json")
            let noToken = try await http.send("GET", "api/v1/provisioning")
            #expect(noToken.status == 401 && noToken.json["error"] == "unauthorized")
            let badToken = try await http.send("GET", "api/v1/provisioning", token: "forged")
            #expect(badToken.status == 401 && badToken.json["error"] == "invalid_token")
            let nowhere = try await http.send("GET", "api/v1/nothing")
            #expect(nowhere.status == 404 && nowhere.json["error"] == "not_found")
        }
    }

    @Test func logoutEndsTheToken() async throws {
        try await withCollab { _, http in
            let token = try await http.login("2001")
            #expect(try await http.send("POST", "api/v1/logout", token: token).status == 200)
            #expect(try await http.send("GET", "api/v1/provisioning", token: token).status == 401)
        }
    }

    @Test func healthAndMetricsAreServed() async throws {
        try await withCollab { _, http in
            _ = try await http.login("2001")
            let health = try await http.send("GET", "health")
            #expect(health.status == 200 && health.json["status"] == "ok" && health.json["callServer"] == "unreachable", "\(health.json)")
            let metrics = String(decoding: try await http.send("GET", "metrics").data, as: UTF8.self)
            #expect(metrics.contains(#"holdfast_collab_logins_total{result="accepted"} 1"#), "\(metrics)")
        }
    }

    @Test func tokensChatAndContactsSurviveARestartOnTheSameDataDirectory() async throws {
        let directory = Office.temporaryDirectory()
        let token = Mutex<String>("")
        try await withCollab(directory: directory) { _, http in
            let t = try await http.login("2001")
            token.withLock { $0 = t }
            let session = SessionClient(port: http.port, token: t)
            _ = try await session.next("welcome") { $0["type"] == "welcome" }
            #expect(try await session.call("contacts.add", ["name": "Plumber", "number": "020 7946 0999"])["result"] != nil)
            #expect(try await session.call("chat.send", ["to": "2002", "text": "kept for you"])["result"] != nil)
            await session.close()
        }
        try await withCollab(directory: directory) { _, http in
            let session = SessionClient(port: http.port, token: token.withLock { $0 })
            let welcome = try await session.next("welcome") { $0["type"] == "welcome" }
            #expect(welcome["snapshot"]?.objectValue?["contacts"]?.arrayValue?.count == 1, "the contact is still there: \(welcome)")
            await session.close()
            let brook = SessionClient(port: http.port, token: try await http.login("2002"))
            let chat = try await brook.event("chat.message")
            #expect(chat["text"] == "kept for you" && chat["from"] == "2001")
            await brook.close()
        }
    }
}
