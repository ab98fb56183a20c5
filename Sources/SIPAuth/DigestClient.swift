// Answering digest challenges (RFC 7616 §3.4; RFC 8760 §2.4 algorithm choice).

public enum DigestClient {
    /// The challenge to answer when several are offered: the strongest algorithm this stack supports.
    public static func preferred(_ challenges: [DigestChallenge]) -> DigestChallenge? {
        challenges.filter { $0.unsupportedAlgorithm == nil }.max { $0.algorithm.strength < $1.algorithm.strength }
    }

    /// Credentials answering `challenge` for a request (method, Request-URI). `cnonce` is injected
    /// (random in use, fixed in tests); `nonceCount` counts uses of this nonce from 1.
    public static func credentials(
        for challenge: DigestChallenge, method: String, uri: String, username: String, password: String,
        cnonce: String, nonceCount: UInt32 = 1
    ) throws(DigestError) -> DigestCredentials {
        if let unsupported = challenge.unsupportedAlgorithm {
            throw DigestError("cannot answer a Digest challenge with algorithm '\(unsupported)'")
        }
        // qop=auth when offered (auth-int, which hashes the body, is not used by SIP in practice).
        let qop: String?
        if challenge.qop.isEmpty {
            qop = nil
        } else if challenge.qop.contains(where: { $0.lowercased() == "auth" }) {
            qop = "auth"
        } else {
            throw DigestError("the challenge offers only qop=\(challenge.qop.joined(separator: ",")), which is not supported")
        }
        let nc = qop == nil ? nil : String(format8Hex: nonceCount)
        let ha1 = DigestComputation.ha1(algorithm: challenge.algorithm, username: username, realm: challenge.realm, password: password)
        let response = DigestComputation.response(
            algorithm: challenge.algorithm, ha1: ha1, nonce: challenge.nonce, cnonce: qop == nil ? nil : cnonce,
            nonceCount: nc, qop: qop, method: method, uri: uri
        )
        return DigestCredentials(
            username: username, realm: challenge.realm, nonce: challenge.nonce, uri: uri, response: response,
            algorithm: challenge.algorithm, cnonce: qop == nil ? nil : cnonce, opaque: challenge.opaque, qop: qop, nonceCount: nc
        )
    }
}

extension String {
    init(format8Hex value: UInt32) {
        let hex = String(value, radix: 16)
        self = String(repeating: "0", count: Swift.max(0, 8 - hex.count)) + hex
    }
}
