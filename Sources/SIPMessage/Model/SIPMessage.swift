// Requests, responses, and the typed header access they share (RFC 3261 §7).

public struct SIPRequest: Sendable, Hashable {
    public var method: SIPMethod
    public var uri: URI
    public var version: String
    public var headers: SIPHeaders
    public var body: [UInt8]

    public init(method: SIPMethod, uri: URI, version: String = "SIP/2.0", headers: SIPHeaders = SIPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.uri = uri
        self.version = version
        self.headers = headers
        self.body = body
    }
}

public struct SIPResponse: Sendable, Hashable {
    public var statusCode: Int
    public var reasonPhrase: String
    public var version: String
    public var headers: SIPHeaders
    public var body: [UInt8]

    public init(statusCode: Int, reasonPhrase: String? = nil, version: String = "SIP/2.0", headers: SIPHeaders = SIPHeaders(), body: [UInt8] = []) {
        self.statusCode = statusCode
        self.reasonPhrase = reasonPhrase ?? ReasonPhrase.standard(for: statusCode)
        self.version = version
        self.headers = headers
        self.body = body
    }

    public var isProvisional: Bool { statusCode < 200 }
    public var isSuccess: Bool { (200..<300).contains(statusCode) }
    public var isFinal: Bool { statusCode >= 200 }
}

public enum SIPMessage: Sendable, Hashable {
    case request(SIPRequest)
    case response(SIPResponse)

    public var headers: SIPHeaders {
        switch self {
        case .request(let r): return r.headers
        case .response(let r): return r.headers
        }
    }

    public var request: SIPRequest? { if case .request(let r) = self { return r } else { return nil } }
    public var response: SIPResponse? { if case .response(let r) = self { return r } else { return nil } }
}

/// Typed access shared by requests and responses. Accessors return nil when a header is absent
/// or does not parse; messages from `SIPParser` have already had these headers checked.
public protocol SIPMessageHeaders {
    var headers: SIPHeaders { get set }
    var body: [UInt8] { get set }
}

extension SIPRequest: SIPMessageHeaders {}
extension SIPResponse: SIPMessageHeaders {}

extension SIPMessageHeaders {
    /// All Via values, top first.
    public var vias: [Via] { headers.values(.via).flatMap { (try? Via.parseList($0)) ?? [] } }
    public var topVia: Via? {
        guard let first = headers[.via] else { return nil }
        return (try? Via.parseList(first))?.first
    }
    public var from: NameAddress? { headers[.from].flatMap { try? NameAddress($0) } }
    public var to: NameAddress? { headers[.to].flatMap { try? NameAddress($0) } }
    public var callID: String? { headers[.callID] }
    public var cseq: CSeq? { headers[.cseq].flatMap { try? CSeq($0) } }
    public var maxForwards: Int? { headers[.maxForwards].flatMap { parseDecimal($0, limit: 255) }.map(Int.init) }
    public var expires: UInt32? { headers[.expires].flatMap { parseDecimal($0, limit: NumericLimits.maxExpires) }.map(UInt32.init) }
    public var contentType: MediaType? { headers[.contentType].flatMap { try? MediaType($0) } }
    /// Contact addresses (empty for `*` or none).
    public var contacts: [NameAddress] { headers.values(.contact).flatMap { (try? NameAddress.parseList($0)) ?? [] } }
    public var isContactWildcard: Bool { headers[.contact]?.trimmingWhitespace() == "*" }
    public var routes: [NameAddress] { headers.values(.route).flatMap { (try? NameAddress.parseList($0)) ?? [] } }
    public var recordRoutes: [NameAddress] { headers.values(.recordRoute).flatMap { (try? NameAddress.parseList($0)) ?? [] } }
    public var require: [String] { headers.values(.require).flatMap { (try? TokenList.parse($0)) ?? [] } }
    public var proxyRequire: [String] { headers.values(.proxyRequire).flatMap { (try? TokenList.parse($0)) ?? [] } }
    public var supported: [String] { headers.values(.supported).flatMap { (try? TokenList.parse($0)) ?? [] } }

    /// Sets the body and its Content-Type; Content-Length is written by the serializer.
    public mutating func setBody(_ body: [UInt8], contentType: MediaType?) {
        self.body = body
        if let contentType { headers.set(.contentType, contentType.description) } else { headers.remove(.contentType) }
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
