// Any URI a SIP message can carry: sip/sips, tel, or another scheme kept as opaque text (RFC 3261 §19, §25).

public enum URI: Sendable, Hashable, CustomStringConvertible {
    case sip(SIPURI)
    case tel(TelURI)
    /// A URI of a scheme this stack does not interpret (`http:`, `isbn:`, `urn:`), kept as written.
    case other(scheme: String, opaque: String)

    public init(_ text: String) throws(SyntaxError) {
        self = try text.withUTF8Bytes { (buffer) throws(SyntaxError) -> URI in
            try URIParser.parse(buffer, 0..<buffer.count, allowHeaders: true)
        }
    }

    public var scheme: String {
        switch self {
        case .sip(let uri): return uri.isSecure ? "sips" : "sip"
        case .tel: return "tel"
        case .other(let scheme, _): return scheme
        }
    }

    public var sipURI: SIPURI? {
        if case .sip(let uri) = self { return uri }
        return nil
    }

    /// The user part (sip) or number (tel), for routing by extension.
    public var user: String? {
        switch self {
        case .sip(let uri): return uri.user
        case .tel(let uri): return uri.number
        case .other: return nil
        }
    }

    public var description: String {
        switch self {
        case .sip(let uri): return uri.description
        case .tel(let uri): return uri.description
        case .other(let scheme, let opaque): return scheme + ":" + opaque
        }
    }
}

/// `sip:` and `sips:` URIs (RFC 3261 §19.1). User and password are kept escaped, as written.
public struct SIPURI: Sendable, Hashable, CustomStringConvertible {
    public var isSecure: Bool
    public var user: String?
    public var password: String?
    public var host: String
    public var port: Int?
    public var parameters: Parameters
    /// Header fields embedded after `?` (only legal outside a Request-URI).
    public var headers: [(name: String, value: String)] {
        get { headerPairs.map { ($0.name, $0.value) } }
        set { headerPairs = newValue.map { HeaderPair(name: $0.name, value: $0.value) } }
    }

    struct HeaderPair: Sendable, Hashable { var name: String; var value: String }
    var headerPairs: [HeaderPair] = []

    public init(
        secure: Bool = false, user: String? = nil, password: String? = nil,
        host: String, port: Int? = nil, parameters: Parameters = Parameters()
    ) {
        self.isSecure = secure
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.parameters = parameters
    }

    public init(_ text: String) throws(SyntaxError) {
        guard case .sip(let uri) = try URI(text) else { throw SyntaxError("not a sip or sips URI: \(text)") }
        self = uri
    }

    /// The user part with %XX escapes decoded.
    public var unescapedUser: String? { user.map(URIParser.unescape) }

    public var transport: String? { parameters["transport"] }

    /// The host with brackets removed from an IPv6 reference.
    public var bareHost: String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    public var hostPort: String { port.map { "\(host):\($0)" } ?? host }

    public var description: String {
        var out = isSecure ? "sips:" : "sip:"
        if let user {
            out += user
            if let password { out += ":" + password }
            out += "@"
        }
        out += hostPort
        out += parameters.serialized
        if !headerPairs.isEmpty {
            out += "?" + headerPairs.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        }
        return out
    }

    /// URI equality per RFC 3261 §19.1.4: scheme, user, password case-sensitive after unescaping;
    /// host case-insensitive; user/ttl/method/maddr/transport parameters must match when either has
    /// them; other parameters must match when both have them; headers must match.
    public func isEquivalent(to other: SIPURI) -> Bool {
        guard isSecure == other.isSecure,
              unescapedUser == other.unescapedUser,
              password.map(URIParser.unescape) == other.password.map(URIParser.unescape),
              host.lowercased() == other.host.lowercased(),
              port == other.port
        else { return false }
        for name in ["user", "ttl", "method", "maddr", "transport"] where parameters[name]?.lowercased() != other.parameters[name]?.lowercased() {
            return false
        }
        for element in parameters where other.parameters.contains(element.name) {
            if parameters[element.name]?.lowercased() != other.parameters[element.name]?.lowercased() { return false }
        }
        let mine = Set(headerPairs.map { "\($0.name.lowercased())=\(URIParser.unescape($0.value))" })
        let theirs = Set(other.headerPairs.map { "\($0.name.lowercased())=\(URIParser.unescape($0.value))" })
        return mine == theirs
    }
}

/// `tel:` URIs (RFC 3966): the number as written plus parameters.
public struct TelURI: Sendable, Hashable, CustomStringConvertible {
    public var number: String
    public var parameters: Parameters

    public init(number: String, parameters: Parameters = Parameters()) {
        self.number = number
        self.parameters = parameters
    }

    public var isGlobal: Bool { number.hasPrefix("+") }

    /// The digits only, visual separators ("-", ".", "(", ")") removed.
    public var digits: String { String(number.filter { !"-.()".contains($0) }) }

    public var description: String { "tel:" + number + parameters.serialized }
}
