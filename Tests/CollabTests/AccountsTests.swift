// Login, provisioning, tokens and their errors, over the real HTTP API.

import Collab
import Foundation
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
            #expect(limited.status == 429 && limited.json["error"] == "too_many_attempts", "even the right password waits: \(limited.json)")
            #expect(Int(limited.json["retryAfter"]?.stringValue ?? "") ?? 0 > 0)
            // Another user is not affected.
            _ = try await http.login("2003")
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
