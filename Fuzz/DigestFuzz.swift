// libFuzzer entry point for digest authentication headers (WWW-Authenticate, Authorization and
// their proxy twins), compiled with Sources/SIPAuth by scripts/fuzz (against Fuzz/CryptoStandIn).
// Properties: no input crashes the parsers or the verifier; a challenge or credentials that parse
// write a header value that parses back to the same; the verifier refuses what it did not issue,
// and answers credentials carrying a nonce it issued without crashing whatever else they say.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    if let challenge = try? DigestChallenge(parsing: text) {
        guard let again = try? DigestChallenge(parsing: challenge.headerValue) else { fatalError("a parsed challenge does not re-parse: \(challenge.headerValue)") }
        precondition(again == challenge, "a challenge changed in a round trip")
    }
    var server = DigestServer(secret: Array("fuzz-secret".utf8), nonceLifetime: 300, algorithms: [.md5, .sha256], maxTrackedNonces: 16)
    if var credentials = try? DigestCredentials(parsing: text) {
        guard let again = try? DigestCredentials(parsing: credentials.headerValue) else { fatalError("parsed credentials do not re-parse: \(credentials.headerValue)") }
        precondition(again == credentials, "credentials changed in a round trip")
        // A nonce the server did not issue is never valid.
        let verdict = server.verify(credentials, method: "REGISTER", realm: credentials.realm, password: "pw", now: 1000)
        if case .valid = verdict { fatalError("credentials with a nonce never issued were accepted") }
        // With a nonce it did issue, any other content is answered without a crash.
        credentials.nonce = server.challenges(realm: credentials.realm, now: 1000, random: Array(repeating: 7, count: 12))[0].nonce
        _ = server.verify(credentials, method: "INVITE", realm: credentials.realm, password: "pw", now: 1001)
    }
    return 0
}
