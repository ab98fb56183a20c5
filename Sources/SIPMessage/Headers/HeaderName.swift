// Header names: case-insensitive, compact forms mapped to their full names (RFC 3261 §7.3.3, §20).

public struct HeaderName: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The full name, lowercased: the key headers are compared by.
    public let key: String

    public init(_ name: String) {
        self.init(lowercasedKey: name.lowercased())
    }

    public init(stringLiteral value: String) { self.init(value) }

    init(lowercasedKey: String) {
        // Every compact form is a single letter (§7.3.3).
        key = lowercasedKey.utf8.count == 1 ? HeaderName.compactForms[lowercasedKey] ?? lowercasedKey : lowercasedKey
    }

    public var description: String { HeaderName.canonicalSpelling[key] ?? key }

    /// The conventional spelling used when this stack writes the header.
    public var canonicalSpelling: String { description }

    static let compactForms: [String: String] = [
        "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
        "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to", "v": "via",
        "o": "event", "r": "refer-to", "b": "referred-by", "u": "allow-events", "x": "session-expires",
        "a": "accept-contact", "j": "reject-contact", "d": "request-disposition", "y": "identity",
    ]

    static let canonicalSpelling: [String: String] = {
        let names = [
            "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
            "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition",
            "Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date",
            "Error-Info", "Event", "Expires", "From", "In-Reply-To", "Max-Forwards", "MIME-Version",
            "Min-Expires", "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Path", "Priority",
            "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route",
            "Refer-To", "Referred-By", "Reply-To", "Require", "Retry-After", "Route", "RSeq", "Server",
            "Session-Expires", "Subject", "Subscription-State", "Supported", "Timestamp", "To", "Unsupported",
            "User-Agent", "Via", "Warning", "WWW-Authenticate", "Flow-Timer", "Replaces", "Min-SE",
            "Remote-Party-ID", "Privacy", "Security-Client", "Security-Server", "Security-Verify", "Identity",
        ]
        return Dictionary(uniqueKeysWithValues: names.map { ($0.lowercased(), $0) })
    }()

    public static let accept: HeaderName = "accept"
    public static let allow: HeaderName = "allow"
    public static let allowEvents: HeaderName = "allow-events"
    public static let authorization: HeaderName = "authorization"
    public static let callID: HeaderName = "call-id"
    public static let contact: HeaderName = "contact"
    public static let contentLength: HeaderName = "content-length"
    public static let contentType: HeaderName = "content-type"
    public static let cseq: HeaderName = "cseq"
    public static let event: HeaderName = "event"
    public static let expires: HeaderName = "expires"
    public static let from: HeaderName = "from"
    public static let maxForwards: HeaderName = "max-forwards"
    public static let minExpires: HeaderName = "min-expires"
    public static let path: HeaderName = "path"
    public static let pAssertedIdentity: HeaderName = "p-asserted-identity"
    public static let proxyAuthenticate: HeaderName = "proxy-authenticate"
    public static let proxyAuthorization: HeaderName = "proxy-authorization"
    public static let proxyRequire: HeaderName = "proxy-require"
    public static let reason: HeaderName = "reason"
    public static let recordRoute: HeaderName = "record-route"
    public static let referTo: HeaderName = "refer-to"
    public static let referredBy: HeaderName = "referred-by"
    public static let replaces: HeaderName = "replaces"
    public static let require: HeaderName = "require"
    public static let retryAfter: HeaderName = "retry-after"
    public static let route: HeaderName = "route"
    public static let server: HeaderName = "server"
    public static let subscriptionState: HeaderName = "subscription-state"
    public static let supported: HeaderName = "supported"
    public static let to: HeaderName = "to"
    public static let unsupported: HeaderName = "unsupported"
    public static let userAgent: HeaderName = "user-agent"
    public static let via: HeaderName = "via"
    public static let warning: HeaderName = "warning"
    public static let wwwAuthenticate: HeaderName = "www-authenticate"
}
