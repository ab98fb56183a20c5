// Challenging and verifying digest credentials (RFC 7616 §3.3, §3.5): self-validating nonces with
// expiry (stale=true), and replay protection by nonce count.

import Crypto

public struct DigestServer: Sendable {
    public enum Verdict: Sendable, Equatable {
        case valid
        /// The response is right but the nonce expired: challenge again with stale=true.
        case stale
        /// The nonce count did not increase: a replayed request.
        case replay
        case invalid(reason: String)
    }

    public var nonceLifetime: Double
    public var algorithms: [DigestAlgorithm]
    private let secret: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: secret) }
    /// Highest nonce count seen per nonce, bounded.
    private var nonceCounts: [String: UInt32] = [:]
    private var nonceOrder: [String] = []
    public let maxTrackedNonces: Int

    /// `secret` signs nonces, so only nonces this server issued verify (32 random bytes in use).
    public init(secret: [UInt8], nonceLifetime: Double = 300, algorithms: [DigestAlgorithm] = [.sha256, .md5], maxTrackedNonces: Int = 10_000) {
        self.secret = secret
        self.nonceLifetime = nonceLifetime
        self.algorithms = algorithms
        self.maxTrackedNonces = maxTrackedNonces
    }

    /// One challenge per accepted algorithm (RFC 8760 §2.4: strongest first), to put in separate
    /// WWW-Authenticate / Proxy-Authenticate headers. `now` is seconds on any fixed epoch;
    /// `random` supplies 12 unpredictable bytes.
    public func challenges(realm: String, stale: Bool = false, now: Double, random: [UInt8]) -> [DigestChallenge] {
        let nonce = makeNonce(now: now, random: random)
        let opaque = Array(HMAC<SHA256>.authenticationCode(for: Array(nonce.utf8), using: key)).prefix(8).hex
        return algorithms.map { DigestChallenge(realm: realm, nonce: nonce, opaque: opaque, algorithm: $0, qop: ["auth"], stale: stale) }
    }

    /// Checks credentials against the user's password (or a stored HA1 for that algorithm).
    public mutating func verify(
        _ credentials: DigestCredentials, method: String, realm: String, password: String? = nil, ha1: String? = nil, now: Double
    ) -> Verdict {
        guard credentials.realm == realm else { return .invalid(reason: "realm '\(credentials.realm)' is not '\(realm)'") }
        guard algorithms.contains(credentials.algorithm) else {
            return .invalid(reason: "algorithm \(credentials.algorithm.rawValue) is not accepted")
        }
        guard let issued = issueTime(of: credentials.nonce) else { return .invalid(reason: "nonce was not issued by this server") }
        let secret = ha1 ?? password.map {
            DigestComputation.ha1(algorithm: credentials.algorithm, username: credentials.username, realm: realm, password: $0)
        }
        guard let secret else { return .invalid(reason: "no password for user") }
        let expected = DigestComputation.response(
            algorithm: credentials.algorithm, ha1: secret, nonce: credentials.nonce, cnonce: credentials.cnonce,
            nonceCount: credentials.nonceCount, qop: credentials.qop, method: method, uri: credentials.uri
        )
        guard constantTimeEqual(expected, credentials.response.lowercased()) else {
            return .invalid(reason: "wrong digest response (bad password?)")
        }
        if now - issued > nonceLifetime { return .stale }
        if credentials.qop != nil, let ncText = credentials.nonceCount, let nc = UInt32(ncText, radix: 16) {
            if let last = nonceCounts[credentials.nonce], nc <= last { return .replay }
            if nonceCounts[credentials.nonce] == nil {
                nonceOrder.append(credentials.nonce)
                // The oldest quarter goes at once: one at a time would move every tracked nonce
                // on each new one.
                if nonceOrder.count > maxTrackedNonces {
                    let excess = nonceOrder.count - maxTrackedNonces * 3 / 4
                    for nonce in nonceOrder.prefix(excess) { nonceCounts[nonce] = nil }
                    nonceOrder.removeFirst(excess)
                }
            }
            nonceCounts[credentials.nonce] = nc
        }
        return .valid
    }

    public var trackedNonceCount: Int { nonceCounts.count }

    /// nonce = base64url(timestamp(8) || random(12) || HMAC-SHA256(secret, timestamp || random)[0..<16])
    func makeNonce(now: Double, random: [UInt8]) -> String {
        var stamp = UInt64(max(0, now * 1000)).bigEndian
        var body = withUnsafeBytes(of: &stamp) { Array($0) }
        body += random.prefix(12)
        let mac = Array(HMAC<SHA256>.authenticationCode(for: body, using: key)).prefix(16)
        return Base64URL.encode(body + mac)
    }

    func issueTime(of nonce: String) -> Double? {
        guard let bytes = Base64URL.decode(nonce), bytes.count > 24 else { return nil }
        let body = Array(bytes[..<(bytes.count - 16)])
        let mac = Array(bytes[(bytes.count - 16)...])
        let expected = Array(HMAC<SHA256>.authenticationCode(for: body, using: key)).prefix(16)
        guard constantTimeEqual(Array(expected), mac) else { return nil }
        let stamp = body.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(stamp) / 1000
    }
}

func constantTimeEqual(_ a: String, _ b: String) -> Bool { constantTimeEqual(Array(a.utf8), Array(b.utf8)) }

func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<a.count { difference |= a[i] ^ b[i] }
    return difference == 0
}

enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let chunk = Array(bytes[i..<min(i + 3, bytes.count)])
            let n = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * $1.offset) }
            for j in 0..<(chunk.count + 1) { out.append(alphabet[Int((n >> (18 - 6 * j)) & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt32] = []
        for b in text.utf8 {
            guard let v = alphabet.firstIndex(of: b) else { return nil }
            values.append(UInt32(v))
        }
        var out: [UInt8] = []
        var i = 0
        while i < values.count {
            let chunk = Array(values[i..<min(i + 4, values.count)])
            guard chunk.count >= 2 else { return nil }
            let n = chunk.enumerated().reduce(UInt32(0)) { $0 | $1.element << (18 - 6 * $1.offset) }
            for j in 0..<(chunk.count - 1) { out.append(UInt8((n >> (16 - 8 * j)) & 0xFF)) }
            i += 4
        }
        return out
    }
}
