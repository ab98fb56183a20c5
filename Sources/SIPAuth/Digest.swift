// Digest challenges, credentials and the response computation (RFC 7616, RFC 8760; RFC 2617 compatible).

import Crypto

public enum DigestAlgorithm: String, Sendable, Hashable, CaseIterable {
    case md5 = "MD5"
    case md5Session = "MD5-sess"
    case sha256 = "SHA-256"
    case sha256Session = "SHA-256-sess"

    public init?(token: String?) {
        guard let token else { self = .md5; return }  // absent means MD5 (RFC 2617)
        guard let match = DigestAlgorithm.allCases.first(where: { $0.rawValue.lowercased() == token.lowercased() }) else { return nil }
        self = match
    }

    var isSession: Bool { self == .md5Session || self == .sha256Session }
    var strength: Int { self == .sha256 || self == .sha256Session ? 2 : 1 }

    public func hash(_ text: String) -> String {
        switch self {
        case .md5, .md5Session: return Array(Insecure.MD5.hash(data: Array(text.utf8))).hex
        case .sha256, .sha256Session: return Array(SHA256.hash(data: Array(text.utf8))).hex
        }
    }
}

extension Sequence where Element == UInt8 {
    /// Lowercase hexadecimal, as digest responses are written.
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A WWW-Authenticate / Proxy-Authenticate challenge.
public struct DigestChallenge: Sendable, Hashable {
    public var realm: String
    public var nonce: String
    public var opaque: String?
    public var algorithm: DigestAlgorithm
    /// qop options offered ("auth", "auth-int"); empty for an RFC 2069/2617 challenge without qop.
    public var qop: [String]
    public var stale: Bool
    /// The algorithm token as received, when it is one this stack cannot compute.
    public var unsupportedAlgorithm: String?

    public init(realm: String, nonce: String, opaque: String? = nil, algorithm: DigestAlgorithm = .md5, qop: [String] = ["auth"], stale: Bool = false) {
        self.realm = realm
        self.nonce = nonce
        self.opaque = opaque
        self.algorithm = algorithm
        self.qop = qop
        self.stale = stale
    }

    public init(parsing value: String) throws(DigestError) {
        let params = try AuthParams(parsing: value)
        guard params.scheme.lowercased() == "digest" else {
            throw DigestError("unsupported authentication scheme '\(params.scheme)' (only Digest)")
        }
        guard let realm = params["realm"] else { throw DigestError("Digest challenge has no realm") }
        guard let nonce = params["nonce"] else { throw DigestError("Digest challenge has no nonce") }
        self.realm = realm
        self.nonce = nonce
        self.opaque = params["opaque"]
        if let algorithm = DigestAlgorithm(token: params["algorithm"]) {
            self.algorithm = algorithm
        } else {
            self.algorithm = .md5
            self.unsupportedAlgorithm = params["algorithm"]
        }
        // Empty entries ("", " , ") name no option: dropped, so the value written parses back the same.
        self.qop = params["qop"].map { $0.split(separator: ",").map { String($0.filter { $0 != " " && $0 != "\t" }) }.filter { !$0.isEmpty } } ?? []
        self.stale = params["stale"]?.lowercased() == "true"
    }

    public var headerValue: String {
        var pairs: [(name: String, value: String, quoted: Bool)] = [("realm", realm, true), ("nonce", nonce, true)]
        if let opaque { pairs.append(("opaque", opaque, true)) }
        // An algorithm this stack cannot compute is written as received (a relayed challenge must
        // not turn into an MD5 one), quoted when it is not a token.
        let algorithmText = unsupportedAlgorithm ?? algorithm.rawValue
        pairs.append(("algorithm", algorithmText, !algorithmText.utf8.allSatisfy(Self.isTokenByte) || algorithmText.isEmpty))
        if !qop.isEmpty { pairs.append(("qop", qop.joined(separator: ","), true)) }
        if stale { pairs.append(("stale", "true", false)) }
        return AuthParams(scheme: "Digest", pairs: pairs).text
    }
}

extension DigestChallenge {
    /// RFC 3261 §25.1 token characters.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return Array("-.!%*_+`'~".utf8).contains(byte)
        }
    }
}

/// An Authorization / Proxy-Authorization value.
public struct DigestCredentials: Sendable, Hashable {
    public var username: String
    public var realm: String
    public var nonce: String
    public var uri: String
    public var response: String
    public var algorithm: DigestAlgorithm
    public var cnonce: String?
    public var opaque: String?
    public var qop: String?
    /// Nonce count as 8 hex digits (RFC 7616 §3.4).
    public var nonceCount: String?

    public init(username: String, realm: String, nonce: String, uri: String, response: String, algorithm: DigestAlgorithm,
                cnonce: String? = nil, opaque: String? = nil, qop: String? = nil, nonceCount: String? = nil) {
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithm = algorithm
        self.cnonce = cnonce
        self.opaque = opaque
        self.qop = qop
        self.nonceCount = nonceCount
    }

    public init(parsing value: String) throws(DigestError) {
        let params = try AuthParams(parsing: value)
        guard params.scheme.lowercased() == "digest" else {
            throw DigestError("unsupported authentication scheme '\(params.scheme)' (only Digest)")
        }
        func required(_ name: String) throws(DigestError) -> String {
            guard let value = params[name] else { throw DigestError("Digest credentials have no \(name)") }
            return value
        }
        username = try required("username")
        realm = try required("realm")
        nonce = try required("nonce")
        uri = try required("uri")
        response = try required("response")
        guard let algorithm = DigestAlgorithm(token: params["algorithm"]) else {
            throw DigestError("unsupported Digest algorithm '\(params["algorithm"] ?? "")'")
        }
        self.algorithm = algorithm
        cnonce = params["cnonce"]
        opaque = params["opaque"]
        qop = params["qop"]
        nonceCount = params["nc"]
        if let qop {
            // One qop-value, a token (RFC 7616 §3.4); a list or other text names no single option.
            guard !qop.isEmpty, qop.utf8.allSatisfy(DigestChallenge.isTokenByte) else {
                throw DigestError("Digest credentials' qop must be one token, not '\(qop)'")
            }
            guard cnonce != nil, let nc = nonceCount, nc.count == 8, UInt32(nc, radix: 16) != nil else {
                throw DigestError("Digest credentials with qop need cnonce and an 8-hex-digit nc")
            }
        }
    }

    public var headerValue: String {
        var pairs: [(name: String, value: String, quoted: Bool)] = [
            ("username", username, true), ("realm", realm, true), ("nonce", nonce, true), ("uri", uri, true),
            ("response", response, true), ("algorithm", algorithm.rawValue, false),
        ]
        if let cnonce { pairs.append(("cnonce", cnonce, true)) }
        if let opaque { pairs.append(("opaque", opaque, true)) }
        if let qop { pairs.append(("qop", qop, false)) }
        if let nonceCount { pairs.append(("nc", nonceCount, false)) }
        return AuthParams(scheme: "Digest", pairs: pairs).text
    }
}

/// The digest computation shared by both sides (RFC 7616 §3.4.1–3.4.3).
public enum DigestComputation {
    public static func ha1(algorithm: DigestAlgorithm, username: String, realm: String, password: String) -> String {
        algorithm.hash("\(username):\(realm):\(password)")
    }

    public static func response(
        algorithm: DigestAlgorithm, ha1 baseHA1: String, nonce: String, cnonce: String?, nonceCount: String?,
        qop: String?, method: String, uri: String
    ) -> String {
        var ha1 = baseHA1
        if algorithm.isSession { ha1 = algorithm.hash("\(baseHA1):\(nonce):\(cnonce ?? "")") }
        let ha2 = algorithm.hash("\(method):\(uri)")
        if let qop {
            return algorithm.hash("\(ha1):\(nonce):\(nonceCount ?? "00000001"):\(cnonce ?? ""):\(qop):\(ha2)")
        }
        return algorithm.hash("\(ha1):\(nonce):\(ha2)")  // RFC 2069 / 2617 without qop
    }
}
