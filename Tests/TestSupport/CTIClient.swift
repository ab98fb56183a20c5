// Clients for the call server's CTI API in tests: HTTP requests with the secret, decoded as
// JSON, and an event-stream consumer over WebSocket.

import Wire
import CallServer
import Foundation
import HummingbirdWSClient
import Logging
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public let ctiSecret = "test-cti-secret"

public struct CTIClient: Sendable {
    public let port: Int
    public var secret = ctiSecret

    public init(port: Int, secret: String = ctiSecret) {
        self.port = port
        self.secret = secret
    }

    public struct Reply: Sendable {
        public let status: Int
        public let json: [String: JSONValue]
        public let array: [JSONValue]
        public subscript(_ key: String) -> JSONValue? { json[key] }
    }

    public func request(_ method: String, _ path: String, body: String? = nil, secret: String? = nil) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/cti/v1/\(path)")!)
        request.httpMethod = method
        request.setValue("Bearer \(secret ?? self.secret)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let value = data.isEmpty ? JSONValue.null : try JSONDecoder().decode(JSONValue.self, from: data)
        switch value {
        case .object(let object): return Reply(status: status, json: object, array: [])
        case .array(let array): return Reply(status: status, json: [:], array: array)
        default: return Reply(status: status, json: [:], array: [])
        }
    }
}

/// A consumer of the event stream: every text message, decoded, in order.
public final class EventStreamClient: Sendable {
    public let messages: AsyncStream<[String: JSONValue]>
    private let task: Task<Void, any Error>

    public init(port: Int, query: String = "", secret: String = ctiSecret) {
        let (stream, continuation) = AsyncStream<[String: JSONValue]>.makeStream()
        messages = stream
        task = Task {
            defer { continuation.finish() }
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/cti/v1/events\(query)",
                configuration: .init(additionalHeaders: [.authorization: "Bearer \(secret)"]),
                logger: Logger(label: "test.cti.events")
            ) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message, case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { continue }
                    continuation.yield(object)
                }
            }
        }
    }

    public var result: Result<Void, any Error> { get async { await task.result } }

    public func next(_ what: String, within seconds: Double = 15, where predicate: @escaping @Sendable ([String: JSONValue]) -> Bool) async throws -> [String: JSONValue] {
        try await messages.first(within: seconds, what, where: predicate)
    }

    public func next(type: String, within seconds: Double = 15) async throws -> [String: JSONValue] {
        try await next("a \(type) event", within: seconds) { $0["type"]?.stringValue == type }
    }

    public func close() async {
        task.cancel()
        _ = await task.result
    }
}
