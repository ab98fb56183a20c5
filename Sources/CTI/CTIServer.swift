// The CTI API of the call server: HTTP + WebSocket on loopback (Hummingbird), every request
// authenticated by the shared secret from the configuration. docs/cti.md describes each message.

import Wire
import CallServer
import Foundation
import HTTPJSON
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

public final class CTIServer: Sendable {
    public let port: Int
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    private init(port: Int, task: Task<Void, any Error>, group: ServiceGroup) {
        self.port = port
        self.task = task
        self.group = group
    }

    /// Starts serving and returns once the socket is bound (port 0 picks a free one).
    public static func start(callServer: CallServer, host: String, port: Int, secret: String, logger: Logger = Logger(label: "holdfast.cti")) async throws -> CTIServer {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware { error in (error as? ControlError).map(APIError.init) })
        router.middlewares.add(BearerTokenMiddleware(token: secret, query: false, hint: "missing or wrong CTI secret (send Authorization: Bearer <secret>)"))
        CTIRoutes(server: callServer).add(to: router.group("cti/v1"))
        let (bound, boundContinuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: .init(autoPing: .enabled(timePeriod: .seconds(15))))),
            configuration: .init(address: .hostname(host, port: port), serverName: "Holdfast PBX CTI"),
            onServerRunning: { channel in
                boundContinuation.yield(channel.localAddress?.port ?? port)
                boundContinuation.finish()
            },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            defer { boundContinuation.finish() }
            try await group.run()
        }
        var iterator = bound.makeAsyncIterator()
        guard let actual = await iterator.next() else {
            // The server stopped before it was running: report why.
            try await task.value
            throw ControlError(.failed, "cti_not_started", "the CTI server did not start on \(host):\(port)")
        }
        return CTIServer(port: actual, task: task, group: group)
    }

    /// Stops accepting, lets requests in progress finish, closes event streams.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

extension APIError {
    init(_ error: ControlError) {
        let status: HTTPResponse.Status = switch error.kind {
        case .notFound: .notFound
        case .invalid: .unprocessableContent
        case .conflict: .conflict
        case .failed: .internalServerError
        }
        self.init(status, error.code, error.message, details: error.details)
    }
}
