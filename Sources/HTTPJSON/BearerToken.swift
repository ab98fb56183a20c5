// The one way the HTTP servers (CTI, the collaboration server, the phone's local API) read and
// check a bearer token (RFC 6750).

import Hummingbird

public enum BearerToken {
    /// The token of `Authorization: Bearer …`, else of `?token=` when `query` allows it and the
    /// request is a WebSocket upgrade (browsers' WebSockets cannot set headers; every other
    /// request can, and a token in a URL ends up in logs and histories); nil when there is none.
    public static func from(_ request: Request, query: Bool) -> String? {
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
            let token = String(header.dropFirst(7))
            return token.isEmpty ? nil : token
        }
        guard query, isWebSocketUpgrade(request), let token = request.uri.queryParameters.get("token"), !token.isEmpty else { return nil }
        return token
    }

    /// `Upgrade: websocket` (RFC 6455 §4.1).
    public static func isWebSocketUpgrade(_ request: Request) -> Bool {
        request.headers[.upgrade]?.lowercased().contains("websocket") == true
    }

    /// Compares in time that depends only on the expected token's length, so a wrong guess
    /// tells nothing about how much of it was right.
    public static func matches(_ given: String?, _ expected: String) -> Bool {
        let x = Array((given ?? "").utf8), y = Array(expected.utf8)
        var difference = x.count ^ y.count
        for i in 0..<y.count { difference |= Int(y[i] ^ (i < x.count ? x[i] : 0)) }
        return difference == 0 && given != nil
    }
}

/// Refuses every request without the expected bearer token with `401 unauthorized`.
public struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String
    let query: Bool
    let hint: String

    /// `hint` tells a person what to send (it becomes the error's message).
    public init(token: String, query: Bool, hint: String) {
        self.token = token
        self.query = query
        self.hint = hint
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard BearerToken.matches(BearerToken.from(request, query: query), token) else {
            throw APIError(.unauthorized, "unauthorized", hint)
        }
        return try await next(request, context)
    }
}
