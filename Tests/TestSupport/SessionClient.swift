// A phone's session with the collaboration server, as tests drive it: JSON messages out, every
// message in, and requests matched to their responses by id.

import Foundation
import HummingbirdWSClient
import Logging
import Synchronization
import Wire

public final class SessionClient: Sendable {
    /// Every message received, kept until a test takes it (so none is lost while waiting for another).
    let mailbox = Mailbox()
    private let outgoing: AsyncStream<String>.Continuation
    private let task: Task<Void, any Error>
    private let nextID = Mutex<Int64>(0)

    /// Connects to `ws://127.0.0.1:PORT/api/v1/session` with the token and sends `hello`.
    /// A heartbeat is sent every `heartbeat` seconds for as long as the session lasts, as a phone
    /// does (the server drops a session silent for three of its intervals, which a loaded machine
    /// reaches while a test waits on something else); `nil` plays a phone that has gone silent.
    /// `path` and no `hello` serve other WebSocket APIs of the project (the phone's `/api/events`),
    /// which take no heartbeats.
    public init(port: Int, token: String, path: String = "/api/v1/session", hello: [String: JSONValue]? = ["type": "hello"], heartbeat: Double? = 1) {
        let heartbeat = path == "/api/v1/session" ? heartbeat : nil
        let (out, outContinuation) = AsyncStream<String>.makeStream()
        outgoing = outContinuation
        let mailbox = self.mailbox
        task = Task {
            defer { Task { await mailbox.close() } }
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)\(path)",
                configuration: .init(additionalHeaders: [.authorization: "Bearer \(token)"]),
                logger: Logger(label: "test.session")
            ) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await text in out { try await outbound.write(.text(text)) }
                    }
                    if let heartbeat {
                        group.addTask {
                            var n: Int64 = 0
                            while true {
                                try await Task.sleep(for: .seconds(heartbeat))
                                n += 1
                                let beat = #"{"type": "heartbeat", "id": "keepalive-\#(n)"}"#
                                try await outbound.write(.text(beat))
                            }
                        }
                    }
                    for try await message in inbound.messages(maxSize: 1 << 22) {
                        guard case .text(let text) = message, case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { continue }
                        await mailbox.put(object)
                    }
                    group.cancelAll()
                }
            }
        }
        if let hello { send(hello) }
    }

    public func send(_ message: [String: JSONValue]) {
        outgoing.yield(String(decoding: (try? JSONEncoder().encode(message)) ?? Data(), as: UTF8.self))
    }

    public func sendRaw(_ text: String) { outgoing.yield(text) }

    /// Sends a request; use `response(to:)` or `call` to read its answer.
    @discardableResult
    public func request(_ method: String, _ params: [String: JSONValue] = [:]) -> Int64 {
        let id = nextID.withLock { $0 += 1; return $0 }
        send(["type": "request", "id": .int(id), "method": .string(method), "params": .object(params)])
        return id
    }

    /// The next message that satisfies `predicate`, within `seconds`.
    public func next(_ what: String, within seconds: Double = 15, where predicate: @escaping @Sendable ([String: JSONValue]) -> Bool) async throws -> [String: JSONValue] {
        let mailbox = self.mailbox
        return try await withTimeout(seconds, what) {
            let id = UUID()
            let found = await withTaskCancellationHandler {
                await mailbox.take(id: id, where: predicate)
            } onCancel: {
                Task { await mailbox.cancel(id) }
            }
            guard let found else { throw TimedOut(what: what + " (session closed)", seconds: seconds) }
            return found
        }
    }

    /// Whether the session has ended (the server closed it or the connection dropped).
    public var isClosed: Bool { get async { await mailbox.closed } }

    /// The next event of `type` (its fields, with sequence and epoch).
    public func event(_ type: String, within seconds: Double = 15, where predicate: @escaping @Sendable ([String: JSONValue]) -> Bool = { _ in true }) async throws -> [String: JSONValue] {
        let message = try await next("a \(type) event", within: seconds) {
            guard $0["type"]?.stringValue == "event", let event = $0["event"]?.objectValue else { return false }
            return event["type"]?.stringValue == type && predicate(event)
        }
        return message["event"]?.objectValue ?? [:]
    }

    /// Sends a request and waits for its response (the whole response object: `result` or `error`).
    public func call(_ method: String, _ params: [String: JSONValue] = [:], within seconds: Double = 10) async throws -> [String: JSONValue] {
        let id = request(method, params)
        return try await next("the response to \(method)", within: seconds) { $0["type"]?.stringValue == "response" && $0["id"] == .int(id) }
    }

    public func close() async {
        outgoing.finish()
        task.cancel()
        _ = await task.result
    }
}

/// Messages not yet taken, and tests waiting for one that matches.
actor Mailbox {
    typealias Message = [String: JSONValue]
    private var items: [Message] = []
    private var waiters: [(id: UUID, predicate: @Sendable (Message) -> Bool, continuation: CheckedContinuation<Message?, Never>)] = []
    private(set) var closed = false

    func put(_ message: Message) {
        if let index = waiters.firstIndex(where: { $0.predicate(message) }) {
            waiters.remove(at: index).continuation.resume(returning: message)
        } else {
            items.append(message)
        }
    }

    func take(id: UUID, where predicate: @escaping @Sendable (Message) -> Bool) async -> Message? {
        if let index = items.firstIndex(where: predicate) { return items.remove(at: index) }
        if closed || Task.isCancelled { return nil }
        return await withCheckedContinuation { waiters.append((id, predicate, $0)) }
    }

    func cancel(_ id: UUID) {
        if let index = waiters.firstIndex(where: { $0.id == id }) { waiters.remove(at: index).continuation.resume(returning: nil) }
    }

    func close() {
        closed = true
        for waiter in waiters { waiter.continuation.resume(returning: nil) }
        waiters = []
    }
}
