// The phone's local API (docs/phone-api.md): 127.0.0.1 only, a bearer token from DIR/api-token,
// Host and Origin checked against DNS rebinding and cross-site requests, JSON errors; a refused
// capability is `409 capability_unavailable` naming the capability and the reason.

import Foundation
import HTTPJSON
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import PhoneUI
import Wire

public enum LocalAPI {
    /// The token in `DIR/api-token`, created (mode 0600) if missing.
    public static func token(in directory: URL) throws -> String {
        let file = directory.appendingPathComponent("api-token")
        if let text = try? String(contentsOf: file, encoding: .utf8), text.count >= 32 {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
        try PhoneCache.writePrivate(Data(token.utf8), to: file)
        return token
    }

    /// The window's address with the token, written to `DIR/ui-url` (mode 0600) for people and scripts.
    @discardableResult
    public static func writeUIURL(in directory: URL, host: String, port: Int, token: String) throws -> String {
        let url = "http://\(host):\(port)/?token=\(token)"
        try PhoneCache.writePrivate(Data((url + "\n").utf8), to: directory.appendingPathComponent("ui-url"))
        return url
    }

    public static func application(core: PhoneCore, token: String, host: String, port: Int,
                                   onRunning: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware { error in
            switch error {
            case let refusal as CapabilityRefusal:
                return APIError(.conflict, "capability_unavailable", "\(refusal.capability) is not available now (\(refusal.reason.rawValue))",
                                details: ["capability": refusal.capability, "reason": refusal.reason.rawValue])
            case LinkError.offline:
                return APIError(.conflict, "capability_unavailable", "the collaboration server is out of service", details: ["reason": "server_offline"])
            case LinkError.refused(let code, let message, let details):
                return APIError(.unprocessableContent, code, message, details: details)
            case LinkError.timedOut:
                return APIError(.gatewayTimeout, "server_timeout", "the collaboration server did not answer in time")
            case CallFailure.unknownCall(let id):
                return APIError(.notFound, "unknown_call", "there is no call \(id) in a state for this", details: ["call": id])
            case CallFailure.invalidNumber(let text):
                return APIError(.badRequest, "invalid_value", "\(text) is not a number to dial", details: ["field": "to"])
            case CallFailure.failed(let why):
                return APIError(.conflict, "call_failed", why)
            default:
                return nil
            }
        })
        router.middlewares.add(LocalOnlyMiddleware())
        // The window's files hold no data: only the API needs the token.
        for (path, file) in PhoneUI.files {
            router.get(RouterPath(path)) { _, _ in
                Response(status: .ok, headers: [.contentType: file.contentType, .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: file.data)))
            }
        }
        PhoneRoutes(core: core).add(to: router.group("api").add(middleware: BearerTokenMiddleware(token: token, query: true, hint: "send Authorization: Bearer <the token in DIR/api-token>")))
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: .init(autoPing: .enabled(timePeriod: .seconds(15))))),
            configuration: .init(address: .hostname(host, port: port), serverName: "Holdfast phone"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? port) },
            logger: Logger(label: "holdfast.phone.api")
        )
    }
}

/// Loopback names only in Host (a page on another site resolving its name to 127.0.0.1 is
/// refused), and Origin (when sent) a loopback page of this port.
struct LocalOnlyMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        let hostName = host.split(separator: ":").first.map(String.init) ?? ""
        guard ["127.0.0.1", "localhost"].contains(hostName) else {
            throw APIError(.forbidden, "forbidden_host", "the phone's API answers only to 127.0.0.1 or localhost, not \(host)")
        }
        if let origin = request.headers[.origin], !LocalOrigin.isLocal(origin: origin, port: host.split(separator: ":").last.flatMap { Int($0) }) {
            throw APIError(.forbidden, "forbidden_origin", "requests from \(origin) are not allowed")
        }
        return try await next(request, context)
    }
}

enum LocalOrigin {
    /// A page of this API itself: `http://127.0.0.1:PORT` or `http://localhost:PORT`, this port
    /// named. Any other loopback page (another program's port, or no port: port 80) is another
    /// site and refused. A `ws://` loopback origin is what a WebSocket client that is no page says
    /// of itself (swift-websocket sends `ws://127.0.0.1`); no browser sends one (a page's Origin is
    /// its own http(s) origin), so it opens nothing to another site and is let through.
    static func isLocal(origin: String, port: Int?) -> Bool {
        guard let url = URL(string: origin), let host = url.host, ["127.0.0.1", "localhost"].contains(host),
              url.path.isEmpty || url.path == "/" else { return false }
        switch url.scheme {
        case "http": return port != nil && url.port == port
        case "ws": return url.port == nil || url.port == port
        default: return false
        }
    }
}

struct PhoneRoutes: Sendable {
    let core: PhoneCore

    func add(to api: RouterGroup<BasicWebSocketRequestContext>) {
        api.get("state") { _, _ in JSONResponse.make(await core.state()) }
        CallRoutes(core: core).add(to: api)
        api.post("server/reconnect") { _, _ in
            try await core.require(.serverReconnect)
            await core.tryNow()
            return JSONResponse.make(["reconnecting": true], status: .accepted)
        }
        api.post("logout") { _, _ in
            try await core.require(.sessionLogout)
            await core.logout()
            return JSONResponse.make(["loggedOut": true])
        }
        api.post("login") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["password"], in: body)
            let password = try JSONBody.string(body, "password")
            await core.login(password: password)
            return JSONResponse.make(["loggingIn": true], status: .accepted)
        }
        api.put("phone-settings") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["autoAnswer", "showCallPopup", "callOnDoubleClick", "recordingPolicy"], in: body)
            var flags: [WritableKeyPath<PhoneSettings, Bool>: Bool] = [:]
            for (key, path) in [("autoAnswer", \PhoneSettings.autoAnswer), ("showCallPopup", \.showCallPopup), ("callOnDoubleClick", \.callOnDoubleClick)] {
                guard let value = body[key] else { continue }
                guard let flag = value.boolValue else { throw APIError.invalid(key, "true or false") }
                flags[path] = flag
            }
            var policy: PhoneConfiguration.RecordingPolicy?
            if let value = body["recordingPolicy"] {
                guard let text = value.stringValue, let parsed = PhoneConfiguration.RecordingPolicy(rawValue: text) else {
                    throw APIError.invalid("recordingPolicy", "discard or keep")
                }
                policy = parsed
            }
            // Auto Answer keeps working offline but cannot be changed there (SYSTEM.md §10).
            if body["autoAnswer"] != nil { try await core.require(.autoAnswerChange) }
            let updated = try await core.update { settings in
                for (path, flag) in flags { settings[keyPath: path] = flag }
                if let policy { settings.recordingPolicy = policy }
            }
            return JSONResponse.make(updated)
        }
        api.get("devices") { _, _ in
            try await core.require(.callMakeFromDevice)
            return JSONResponse.make(try await core.link.request(.devicesList))
        }
        api.get("login-notify") { _, _ in
            try await core.require(.loginNotify)
            return JSONResponse.make(try await core.link.request(.loginNotifyList))
        }
        api.post("login-notify") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["user"], in: body)
            try await core.require(.loginNotify)
            return JSONResponse.make(try await core.link.request(.loginNotifyAdd, body))
        }
        api.get("presence") { _, _ in
            try await core.require(.presenceView)
            return JSONResponse.make(await core.presenceJSON)
        }
        api.get("contacts") { _, _ in
            try await core.require(.contactsView)
            return JSONResponse.make(await core.cache.provisioning?.contacts ?? [])
        }
        api.post("contacts") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["name", "number", "note"], in: body)
            try await core.require(.contactsAdd)
            return JSONResponse.make(try await core.link.request(.contactsAdd, body), status: .created)
        }
        api.get("directory") { request, _ in
            try await core.require(.contactsSearch)
            let query = request.uri.queryParameters.get("q") ?? ""
            let entries = await core.cache.provisioning?.directory.entries ?? []
            return JSONResponse.make(entries.filter { DirectorySearch.matches(name: $0.name, number: $0.number, query: query) })
        }
        api.get("history") { _, _ in
            try await core.require(.callHistoryView)
            return JSONResponse.make(await core.cache.history)
        }
        api.get("settings") { _, _ in
            let state = await core.state().objectValue?["settings"]?.objectValue ?? [:]
            var settings = (try? JSONValue(encoding: await core.cache.provisioning?.settings)).flatMap(\.objectValue) ?? [:]
            for (key, value) in state { settings[key] = value }
            return JSONResponse.make(settings)
        }
        api.put("settings") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(CallSettings.fields, in: body)
            for key in body.keys {
                let capability: CapabilityID = switch key {
                case "doNotDisturb": .dndToggle
                case "selectedDevice": .sendingCallsToChange
                default: .forwardingChange
                }
                try await core.require(capability)
            }
            return JSONResponse.make(try await core.link.request(.settingsSet, body))
        }
        api.get("chat") { request, _ in
            try await core.require(.chat)
            guard let peer = request.uri.queryParameters.get("with") else { throw APIError.missing("with") }
            return JSONResponse.make(try await core.link.request(.chatHistory, ["with": .string(peer)]))
        }
        api.post("chat") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["to", "text"], in: body)
            try await core.require(.chat)
            return JSONResponse.make(try await core.link.request(.chatSend, body), status: .created)
        }
        api.post("acd/login") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["agent"], in: body)
            try await core.require(.acdLogin)
            return JSONResponse.make(try await core.acdReply(try await core.link.request(.acdLogin, ["agent": .string(try JSONBody.string(body, "agent"))])))
        }
        api.post("acd/logout") { _, _ in
            try await core.require(.acdLogout)
            return JSONResponse.make(try await core.acdReply(try await core.link.request(.acdLogout)))
        }
        api.put("acd/state") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["state", "reason"], in: body)
            // Changing the agent's state goes through the server, as logging in does.
            try await core.require(.acdLogin)
            return JSONResponse.make(try await core.acdReply(try await core.link.request(.acdState, body)))
        }
        api.post("acd/wrap-up/end") { _, _ in
            try await core.require(.acdLogin)
            return JSONResponse.make(try await core.acdReply(try await core.link.request(.acdEndWrapUp)))
        }
        // The desktop console: on or off duty (online only; on duty it stays so offline), and
        // answering the attendant's calls (online and offline).
        api.put("console") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["active"], in: body)
            guard let active = body["active"]?.boolValue else { throw APIError.invalid("active", "true or false") }
            try await core.require(.desktopConsoleSelect)
            return JSONResponse.make(try await core.consoleReply(try await core.link.request(.consoleSet, ["active": .bool(active)])))
        }
        api.post("console/answer") { request, _ in
            let body = try await JSONBody.optionalObject(request)
            try JSONBody.only(["call"], in: body)
            return JSONResponse.make(try await core.consoleAnswer(try JSONBody.optionalString(body, "call")))
        }
        // Hot desking (online only): log in as a hot-desk user at this phone, log out.
        api.post("hotdesk/login") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["user", "pin"], in: body)
            _ = try JSONBody.string(body, "user")
            _ = try JSONBody.string(body, "pin")
            try await core.require(.hotdeskLogin)
            return JSONResponse.make(try await core.hotDeskReply(try await core.link.request(.hotDeskLogin, body)))
        }
        api.post("hotdesk/logout") { _, _ in
            try await core.require(.hotdeskLogout)
            return JSONResponse.make(try await core.hotDeskReply(try await core.link.request(.hotDeskLogout)))
        }
        api.put("presence") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["state", "note"], in: body)
            try await core.require(.presenceSet)
            return JSONResponse.make(try await core.link.request(.presenceSet, body))
        }
        api.ws("events") { _, _ in
            .upgrade([:])
        } onUpgrade: { inbound, outbound, _ in
            let states = await core.subscribe()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await state in states { try await outbound.write(.text(JSONResponse.text(state))) }
                }
                for try await _ in inbound {}
                group.cancelAll()
            }
        }
    }
}
