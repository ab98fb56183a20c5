// The collaboration server in-process for protocol tests: a small office, fast bcrypt, a CTI
// address where no call server listens (features that need one fail clearly).

import Collab
import Foundation
import HummingbirdTesting
import Testing
import TestSupport
import Wire
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

enum Office {
    static func configuration(ctiPort: Int = 9, heartbeat: Double = 2) -> CollabConfiguration {
        var configuration = CollabConfiguration()
        configuration.listen.port = 0
        configuration.bcryptCost = 4
        configuration.heartbeatSeconds = heartbeat
        configuration.callServer.cti.url = "http://127.0.0.1:\(ctiPort)"
        configuration.callServer.cti.secret = "test-cti-secret"
        configuration.users = [
            .init(extensionNumber: "2001", name: "Ada Lovelace", password: "pw2001"),
            .init(extensionNumber: "2002", name: "Brook Taylor", password: "pw2002"),
            .init(extensionNumber: "2003", name: "Cy Young", password: "pw2003"),
        ]
        configuration.directory = [.init(name: "Reception desk", number: "+44 20 7946 0000")]
        return configuration
    }

    static func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-collab-\(UUID().uuidString)")
    }
}

/// HTTP to the live server: status and JSON body.
struct HTTP {
    let port: Int

    func send(_ method: String, _ path: String, json: String? = nil, token: String? = nil, body: Data? = nil,
              contentType: String = "application/json") async throws -> (status: Int, json: [String: JSONValue], data: Data) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/\(path)")!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json { request.httpBody = Data(json.utf8) } else if let body { request.httpBody = body }
        if json != nil || body != nil { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let object = (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, object, data)
    }

    func login(_ user: String, _ password: String? = nil) async throws -> String {
        let reply = try await send("POST", "api/v1/login", json: #"{"user": "\#(user)", "password": "\#(password ?? "pw" + user)"}"#)
        guard reply.status == 200, let token = reply.json["token"]?.stringValue else {
            throw TimedOut(what: "a login of \(user) (got \(reply.status) \(reply.json))", seconds: 0)
        }
        return token
    }
}

/// Runs `body` against a live collaboration server on a free port.
func withCollab(_ configuration: CollabConfiguration = Office.configuration(), directory: URL = Office.temporaryDirectory(),
                _ body: @escaping @Sendable (CollabCore, HTTP) async throws -> Void) async throws {
    let core = try CollabCore(configuration: configuration, dataDirectory: directory)
    let app = CollabServer.application(core: core)
    try await app.test(.live) { client in
        try await body(core, HTTP(port: client.port!))
    }
}
