// `holdfast collab` over HTTP and WebSocket (Hummingbird): login, provisioning, the phone session,
// recordings, health and metrics; the call-server link runs beside it as a service.

import ConfigFile
import CTILink
import Foundation
import HTTPJSON
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import Wire

/// A request's context: what Hummingbird keeps, and the peer's address (the login limits count
/// failures by it).
public struct CollabRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The peer's IP address ("?" when the channel has none).
    public let address: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        address = source.channel.remoteAddress?.ipAddress ?? "?"
    }
}

public enum CollabServer {
    /// The application, ready to run (or to test with HummingbirdTesting).
    public static func application(core: CollabCore, onRunning: @escaping @Sendable (Int) -> Void = { _ in })
        -> some ApplicationProtocol {
        let router = Router(context: CollabRequestContext.self)
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

    func add(to router: Router<CollabRequestContext>) {
        router.get("health") { _, _ in
            JSONResponse.make(Health(sessions: await core.hub.onlineCount,
                                     callServer: core.follower.isConnected ? "connected" : "unreachable",
                                     historyCursor: (try? core.store.historyCursor()) ?? 0))
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: core.metrics.text)))
        }
        let api = router.group("api/v1")
        api.post("login") { request, context in
            // Only a JSON body, and not from another site's page: a cross-site form or text/plain
            // POST could otherwise make a browser guess passwords for it.
            guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
                throw APIError(.unsupportedMediaType, "unsupported_media_type", "send the login as Content-Type: application/json",
                               details: ["field": "Content-Type"])
            }
            if let origin = request.headers[.origin], let host = request.head.authority,
               URL(string: origin).map({ "\($0.host ?? "")\($0.port.map { ":\($0)" } ?? "")" }) != host {
                throw APIError(.forbidden, "cross_origin", "a login from the page of another site (Origin \(origin)) is refused", details: ["field": "Origin"])
            }
            let body = try await JSONBody.object(request)
            try JSONBody.only(["user", "password"], in: body)
            let user = try JSONBody.string(body, "user")
            let password = try JSONBody.string(body, "password")
            // An extension number, and a password of printable characters: no NUL, no control
            // characters (which storage or a log line would read otherwise).
            guard user.count <= 32, user.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw APIError.invalid("user", "an extension number (digits, at most 32)")
            }
            guard password.count <= 1024, !password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw APIError.invalid("password", "at most 1024 characters, none of them control characters")
            }
            do {
                let (token, expiresAt) = try core.accounts.login(user: user, password: password, address: context.address, now: core.now())
                core.metrics.loginsAccepted.increment()
                core.logger.info("login", metadata: ["user": "\(user)"])
                return JSONResponse.make(LoginReply(token: token, expiresAt: expiresAt, provisioning: try await core.provisioning(for: user)))
            } catch let failure as LoginFailure {
                switch failure.reason {
                case .invalidCredentials:
                    core.metrics.loginsRefused.increment()
                    if failure.limitReached {
                        // One line per limit, in a form fail2ban can match: `login limit reached … address=A`.
                        core.logger.notice("login limit reached; further attempts refused for the window",
                                           metadata: ["user": "\(user)", "address": "\(context.address)"])
                    }
                    throw APIError(.unauthorized, "invalid_credentials", "wrong user or password")
                case .rateLimited(let seconds):
                    core.metrics.loginsRateLimited.increment()
                    var response = APIError(.tooManyRequests, "too_many_attempts", "too many failed logins from this address; try again in \(seconds) s",
                                            details: ["retryAfter": String(seconds)]).response
                    response.headers[.retryAfter] = String(seconds)
                    return response
                }
            }
        }
        api.post("logout") { request, _ in
            let (_, token) = try authenticate(request)
            try core.accounts.logout(token: token)
            // Sessions opened with the token end with it.
            core.tokenSessions.close(token)
            return JSONResponse.make(["loggedOut": true])
        }
        api.get("provisioning") { request, _ in
            let (user, _) = try authenticate(request)
            return JSONResponse.make(try await core.provisioning(for: user))
        }
        api.ws("session") { request, _ in
            // A refused upgrade is the 401 (or 403) that says why, as for any other request.
            _ = try authenticate(request, query: true)
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard let (user, token) = try? authenticate(context.request, query: true) else { return }
            try await PhoneSession(core: core, user: user, token: token).run(inbound: inbound, outbound: outbound)
        }
        // The contact center's wallboard, for supervisors (collab.yaml `supervisors`).
        router.get("wallboard") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: WallboardPage.html)))
        }
        api.get("wallboard") { request, _ in
            _ = try supervisor(request)
            return JSONResponse.make(await core.wallboard.current())
        }
        api.ws("wallboard/live") { request, _ in
            _ = try supervisor(request, query: true)
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard (try? supervisor(context.request, query: true)) != nil, let token = BearerToken.from(context.request, query: true) else { return }
            let (id, snapshots) = await core.wallboard.watch()
            defer { Task { await core.wallboard.unwatch(id) } }
            let (session, loggedOut) = core.tokenSessions.open(token)
            defer { core.tokenSessions.closed(token, session) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await snapshot in snapshots { try await outbound.write(.text(JSONResponse.text(snapshot))) }
                }
                group.addTask {
                    for await _ in loggedOut { try await outbound.close(.policyViolation, reason: "logged out") }
                }
                // Until the browser goes (what it sends is not read otherwise).
                for try await _ in inbound.messages(maxSize: 1 << 16) {}
                group.cancelAll()
            }
        }
        api.post("recordings") { request, _ in
            let (user, _) = try authenticate(request)
            return JSONResponse.make(try await storeRecording(request, owner: user), status: .created)
        }
        api.get("recordings") { request, _ in
            let (user, _) = try authenticate(request)
            return JSONResponse.make(try core.store.recordings(of: user))
        }
        // A voicemail message's audio, from the call server that keeps it (visual voicemail).
        api.get("voicemail/:id/audio") { request, context in
            let (user, _) = try authenticate(request)
            guard let id = Int64(try context.parameters.require("id")), id > 0 else { throw APIError.invalid("id", "a message id (a positive number)") }
            let data = try await core.cti.bytes("users/\(user)/voicemail/\(id)/audio")
            return Response(status: .ok, headers: [.contentType: "audio/wav"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
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

    /// The user a request's token belongs to (`Authorization: Bearer …`; `?token=` only where
    /// `query` allows it: browsers' WebSockets, which cannot set headers).
    func authenticate(_ request: Request, query: Bool = false) throws -> (user: String, token: String) {
        guard let token = BearerToken.from(request, query: query) else {
            throw APIError(.unauthorized, "unauthorized", "log in first and send Authorization: Bearer <token>")
        }
        guard let user = try core.accounts.user(forToken: token, now: core.now()) else {
            throw APIError(.unauthorized, "invalid_token", "the token is unknown or expired; log in again")
        }
        return (user, token)
    }

    /// The supervisor a request's token belongs to; 403 for a user who is none.
    func supervisor(_ request: Request, query: Bool = false) throws -> String {
        let (user, _) = try authenticate(request, query: query)
        guard core.configuration.supervisors.contains(user) else {
            throw APIError(.forbidden, "not_supervisor", "user \(user) is not a supervisor (collab.yaml supervisors)", details: ["user": user])
        }
        return user
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
        PrivateFiles.restrict([temporary])
        let recording = try core.store.addRecording(owner: owner, call: query.get("call"), remote: query.get("remote"), startedAt: startedAt,
                                                    bytes: Int64(bytes.count), at: core.now())
        try FileManager.default.moveItem(at: temporary, to: core.recordingsDirectory.appendingPathComponent("\(recording.id).wav"))
        return recording
    }
}
