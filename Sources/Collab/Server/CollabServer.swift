// `holdfast collab` over HTTP and WebSocket (Hummingbird): login, provisioning, the phone session,
// recordings, health and metrics; the call-server link runs beside it as a service.

import CTILink
import Foundation
import HTTPJSON
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import Wire

public enum CollabServer {
    /// The application, ready to run (or to test with HummingbirdTesting).
    public static func application(core: CollabCore, onRunning: @escaping @Sendable (Int) -> Void = { _ in })
        -> some ApplicationProtocol {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware { error in
            if let failure = error as? CTIFailure {
                return APIError(.init(code: failure.status), failure.code, failure.message, details: failure.details)
            }
            return nil
        })
        Routes(core: core).add(to: router)
        var app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: .init(maxFrameSize: 1 << 20, autoPing: .enabled(timePeriod: .seconds(10))))),
            configuration: .init(address: .hostname(core.configuration.listen.host, port: core.configuration.listen.port), serverName: "Holdfast collab"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) },
            logger: core.logger
        )
        app.addServices(Background(core: core))
        return app
    }
}

/// The call server's events and CDRs followed for as long as the server runs.
struct Background: Service {
    let core: CollabCore

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await core.watcher.run() }
            // A safety net beside the event-driven reads: a missed `call.ended` costs at most this long.
            group.addTask {
                while (try? await Task.sleep(for: .seconds(30))) != nil { await core.history.sync() }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}

struct Routes: Sendable {
    let core: CollabCore

    func add(to router: Router<BasicWebSocketRequestContext>) {
        router.get("health") { _, _ in
            JSONResponse.make(Health(sessions: await core.hub.onlineCount,
                                     callServer: core.follower.isConnected ? "connected" : "unreachable",
                                     historyCursor: (try? core.store.historyCursor()) ?? 0))
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: core.metrics.text)))
        }
        let api = router.group("api/v1")
        api.post("login") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["user", "password"], in: body)
            let user = try JSONBody.string(body, "user")
            let password = try JSONBody.string(body, "password")
            do {
                let (token, expiresAt) = try core.accounts.login(user: user, password: password, now: core.now())
                core.metrics.loginsAccepted.increment()
                core.logger.info("login", metadata: ["user": "\(user)"])
                return JSONResponse.make(LoginReply(token: token, expiresAt: expiresAt, provisioning: try await core.provisioning(for: user)))
            } catch let failure as LoginFailure {
                switch failure.reason {
                case .invalidCredentials:
                    core.metrics.loginsRefused.increment()
                    throw APIError(.unauthorized, "invalid_credentials", "wrong user or password")
                case .rateLimited(let seconds):
                    core.metrics.loginsRateLimited.increment()
                    var response = APIError(.tooManyRequests, "too_many_attempts", "too many failed logins for \(user); try again in \(seconds) s",
                                            details: ["retryAfter": String(seconds)]).response
                    response.headers[.retryAfter] = String(seconds)
                    return response
                }
            }
        }
        api.post("logout") { request, _ in
            let (_, token) = try authenticate(request)
            try core.accounts.logout(token: token)
            return JSONResponse.make(["loggedOut": true])
        }
        api.get("provisioning") { request, _ in
            let (user, _) = try authenticate(request)
            return JSONResponse.make(try await core.provisioning(for: user))
        }
        api.ws("session") { request, _ in
            do {
                _ = try authenticate(request)
                return .upgrade([:])
            } catch {
                return .dontUpgrade
            }
        } onUpgrade: { inbound, outbound, context in
            guard let (user, _) = try? authenticate(context.request) else { return }
            try await PhoneSession(core: core, user: user).run(inbound: inbound, outbound: outbound)
        }
        api.post("recordings") { request, _ in
            let (user, _) = try authenticate(request)
            return JSONResponse.make(try await storeRecording(request, owner: user), status: .created)
        }
        api.get("recordings") { request, _ in
            let (user, _) = try authenticate(request)
            return JSONResponse.make(try core.store.recordings(of: user))
        }
        api.get("recordings/:id") { request, context in
            let (user, _) = try authenticate(request)
            guard let id = Int64(try context.parameters.require("id")), let recording = try core.store.recording(id), recording.owner == user else {
                throw APIError(.notFound, "unknown_recording", "there is no recording \(context.parameters.get("id") ?? "") of yours")
            }
            let data = try Data(contentsOf: core.recordingsDirectory.appendingPathComponent("\(id).wav"))
            return Response(status: .ok, headers: [.contentType: "audio/wav"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    struct Health: Encodable {
        var status = "ok"
        var sessions: Int
        var callServer: String
        var historyCursor: Int64
    }

    /// The user a request's token belongs to (`Authorization: Bearer …`, or `?token=` for browsers'
    /// WebSockets, which cannot set headers).
    func authenticate(_ request: Request) throws -> (user: String, token: String) {
        guard let token = BearerToken.from(request, query: true) else {
            throw APIError(.unauthorized, "unauthorized", "log in first and send Authorization: Bearer <token>")
        }
        guard let user = try core.accounts.user(forToken: token, now: core.now()) else {
            throw APIError(.unauthorized, "invalid_token", "the token is unknown or expired; log in again")
        }
        return (user, token)
    }

    /// A WAV upload with its metadata in the query (`call`, `remote`, `startedAt`).
    func storeRecording(_ request: Request, owner: String) async throws -> Recording {
        let limit = core.configuration.recordingMaxBytes
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: limit) } catch {
            throw APIError(.contentTooLarge, "body_too_large", "a recording may be at most \(limit) bytes")
        }
        let bytes = Data(buffer.readableBytesView)
        guard bytes.count >= 44, bytes.prefix(4) == Data("RIFF".utf8), bytes[8..<12] == Data("WAVE".utf8) else {
            throw APIError(.unsupportedMediaType, "invalid_recording", "the body must be a WAV file (RIFF/WAVE)")
        }
        let query = request.uri.queryParameters
        var startedAt: Date?
        if let text = query.get("startedAt") {
            guard let date = ISO8601DateFormatter().date(from: text) else { throw APIError.invalid("startedAt", "an ISO 8601 time") }
            startedAt = date
        }
        let temporary = core.recordingsDirectory.appendingPathComponent("upload-\(UUID().uuidString).part")
        try bytes.write(to: temporary)
        let recording = try core.store.addRecording(owner: owner, call: query.get("call"), remote: query.get("remote"), startedAt: startedAt,
                                                    bytes: Int64(bytes.count), at: core.now())
        try FileManager.default.moveItem(at: temporary, to: core.recordingsDirectory.appendingPathComponent("\(recording.id).wav"))
        return recording
    }
}
