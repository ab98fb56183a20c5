// One phone's WebSocket session: hello → welcome (resumed, or a snapshot), then requests,
// responses, heartbeats and events until either side goes away. A phone that falls silent for
// three heartbeat intervals is taken as gone.

import CTILink
import Foundation
import HTTPJSON
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization
import Wire

struct PhoneSession {
    let core: CollabCore
    let user: String
    /// The login token the session was opened with: logging out with it ends the session.
    let token: String

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let (out, outContinuation) = AsyncStream<String>.makeStream()
        let lastHeard = LastHeard()
        let heartbeat = Duration.seconds(core.configuration.heartbeatSeconds)
        let silence = max(heartbeat * 3, .seconds(3))
        var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()

        // The first message says where the phone's copy of its event stream stands.
        guard case .text(let first)? = try await messages.next(), let hello = try? JSONBody.object(Data(first.utf8)),
              hello["type"]?.stringValue == CollabFrame.hello.rawValue else {
            try await outbound.write(.text(JSONResponse.text(["type": CollabFrame.error.rawValue, "error": "hello_expected",
                                                              "message": "the first message must be {\"type\": \"hello\"}"])))
            return
        }
        let log = await core.hub.log(user)
        let subscription = log.subscribe(after: hello["after"]?.intValue, epoch: hello["epoch"]?.stringValue)
        let resumed = hello["after"] != nil && subscription.complete
        var welcome: [String: JSONValue] = [
            "type": .string(CollabFrame.welcome.rawValue), "epoch": .string(log.epoch), "sequence": .int(log.lastSequence), "resumed": .bool(resumed),
            "heartbeatSeconds": .double(core.configuration.heartbeatSeconds), "user": .string(user),
        ]
        if !resumed { welcome["snapshot"] = try await core.snapshot(for: user) }
        try await outbound.write(.text(JSONResponse.text(welcome)))
        for event in subscription.replay { try await outbound.write(.text(Self.eventText(event))) }
        await core.hub.opened(user)
        core.metrics.sessions.increment()
        core.logger.info("phone session opened", metadata: ["user": "\(user)", "resumed": "\(resumed)"])
        defer {
            core.metrics.sessions.decrement()
            let hub = core.hub, user = self.user
            Task { await hub.closed(user) }
            core.logger.info("phone session closed", metadata: ["user": "\(user)"])
        }
        try? await core.deliverPending(to: user)

        let (registration, loggedOut) = core.tokenSessions.open(token)
        defer { core.tokenSessions.closed(token, registration) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [core, user] in
                for await _ in loggedOut {
                    core.logger.info("phone session ended by logout", metadata: ["user": "\(user)"])
                    try await outbound.close(.policyViolation, reason: "logged out")
                }
            }
            // One writer, so responses and events never interleave inside a frame.
            group.addTask {
                for await text in out { try await outbound.write(.text(text)) }
            }
            group.addTask {
                for await event in subscription.live { outContinuation.yield(Self.eventText(event)) }
            }
            // A phone silent for three heartbeats is gone (its connection may still look open).
            group.addTask { [core, user] in
                while true {
                    try await Task.sleep(for: heartbeat)
                    if ContinuousClock.now - lastHeard.time > silence {
                        core.logger.notice("phone session silent; closing", metadata: ["user": "\(user)"])
                        try await outbound.close(.goingAway, reason: "no heartbeat")
                        return
                    }
                }
            }
            while let message = try await messages.next() {
                lastHeard.touch()
                guard case .text(let text) = message else { continue }
                Self.receive(text, core: core, user: user, reply: { outContinuation.yield($0) })
            }
            outContinuation.finish()
            group.cancelAll()
        }
    }

    /// Heartbeats are answered at once; requests each in their own task, so a slow one (waiting
    /// for the call server) never holds up a heartbeat.
    static func receive(_ text: String, core: CollabCore, user: String, reply: @escaping @Sendable (String) -> Void) {
        let message: [String: JSONValue]
        do { message = try JSONBody.object(Data(text.utf8)) } catch {
            reply(JSONResponse.text(["type": CollabFrame.error.rawValue, "error": "invalid_json", "message": "a message must be a JSON object"]))
            return
        }
        let id = message["id"] ?? .null
        switch message["type"]?.stringValue.flatMap(CollabFrame.init(rawValue:)) {
        case .heartbeat?:
            core.metrics.heartbeats.increment()
            reply(JSONResponse.text(["type": .string(CollabFrame.heartbeat.rawValue), "id": id, "time": .string(ISO8601DateFormatter().string(from: core.now()))]))
        case .request?:
            core.metrics.requests.increment()
            Task {
                var response: [String: JSONValue] = ["type": .string(CollabFrame.response.rawValue), "id": id]
                do {
                    guard let method = message["method"]?.stringValue else { throw APIError.missing("method") }
                    let params = message["params"]?.objectValue ?? [:]
                    if let given = message["params"], given != .null, given.objectValue == nil { throw APIError.invalid("params", "a JSON object") }
                    response["result"] = try await Requests(core: core).handle(method, params, user: user)
                } catch let error as APIError {
                    core.metrics.requestErrors.increment()
                    response["error"] = Self.errorJSON(error.code, error.message, error.details)
                } catch let failure as CTIFailure {
                    core.metrics.requestErrors.increment()
                    response["error"] = Self.errorJSON(failure.code, failure.message, failure.details)
                } catch {
                    core.metrics.requestErrors.increment()
                    response["error"] = Self.errorJSON("internal", "\(error)", [:])
                }
                reply(JSONResponse.text(response))
            }
        default:
            reply(JSONResponse.text(["type": .string(CollabFrame.error.rawValue), "id": id, "error": "invalid_value", "field": "type",
                                     "message": "type must be hello (first), heartbeat or request"]))
        }
    }

    static func errorJSON(_ code: String, _ message: String, _ details: [String: String]) -> JSONValue {
        var object = details.mapValues(JSONValue.string)
        object["error"] = .string(code)
        object["message"] = .string(message)
        return .object(object)
    }

    static func eventText(_ event: StreamEvent) -> String {
        JSONResponse.text(["type": .string(CollabFrame.event.rawValue), "event": (try? JSONValue(encoding: event)) ?? .null])
    }
}

/// When the phone last sent anything (shared by the reading loop and the silence watchdog).
final class LastHeard: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var time: ContinuousClock.Instant { instant.withLock { $0 } }
    func touch() { instant.withLock { $0 = .now } }
}
