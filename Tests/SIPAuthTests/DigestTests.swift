// Digest authentication against the RFC examples, and the server's nonce rules.

import Testing
@testable import SIPAuth

@Suite struct DigestTests {
    @Test func rfc2617Example() throws {
        let challenge = try DigestChallenge(parsing: #"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#)
        let credentials = try DigestClient.credentials(
            for: challenge, method: "GET", uri: "/dir/index.html", username: "Mufasa", password: "Circle Of Life", cnonce: "0a4f113b")
        #expect(credentials.response == "6629fae49393a05397450978507c4ef1")
        #expect(credentials.nonceCount == "00000001")
    }

    @Test func rfc7616SHA256AndMD5Examples() throws {
        let base = #"realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
        let sha = try DigestChallenge(parsing: "Digest " + base + ", algorithm=SHA-256")
        let md5 = try DigestChallenge(parsing: "Digest " + base + ", algorithm=MD5")
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
        let a = try DigestClient.credentials(for: sha, method: "GET", uri: "/dir/index.html", username: "Mufasa", password: "Circle of Life", cnonce: cnonce)
        let b = try DigestClient.credentials(for: md5, method: "GET", uri: "/dir/index.html", username: "Mufasa", password: "Circle of Life", cnonce: cnonce)
        #expect(a.response == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        #expect(b.response == "8ca523f5e9506fed4657c9700eebdbec")
        #expect(DigestClient.preferred([md5, sha])?.algorithm == .sha256)
    }

    @Test func credentialsRoundTripThroughTheHeaderValue() throws {
        let value = #"Digest username="2001", realm="127.0.0.1" ,nonce="abc",uri="sip:127.0.0.1", response="0123", algorithm=MD5, cnonce="x\"y", qop=auth, nc=0000000a"#
        let credentials = try DigestCredentials(parsing: value)
        #expect(credentials.cnonce == "x\"y")
        #expect(try DigestCredentials(parsing: credentials.headerValue) == credentials)
    }

    @Test func unknownSchemeIsAClearError() {
        #expect(throws: DigestError("unsupported authentication scheme 'NoOneKnowsThisScheme' (only Digest)")) {
            try DigestCredentials(parsing: "NoOneKnowsThisScheme opaque-data=here")
        }
    }

    @Test func noQopChallengeUsesRFC2069Response() throws {
        let challenge = DigestChallenge(realm: "r", nonce: "n", qop: [])
        let credentials = try DigestClient.credentials(for: challenge, method: "REGISTER", uri: "sip:r", username: "u", password: "p", cnonce: "c")
        let ha1 = DigestAlgorithm.md5.hash("u:r:p")
        let ha2 = DigestAlgorithm.md5.hash("REGISTER:sip:r")
        #expect(credentials.response == DigestAlgorithm.md5.hash("\(ha1):n:\(ha2)"))
        #expect(credentials.qop == nil && credentials.cnonce == nil)
    }
}

@Suite struct DigestServerTests {
    let secret = Array(repeating: UInt8(7), count: 32)
    let random: [UInt8] = Array(1...12)

    func answer(_ server: DigestServer, password: String = "pw2001", now: Double = 1000, nc: UInt32 = 1, algorithm: DigestAlgorithm = .sha256) throws -> DigestCredentials {
        let challenge = server.challenges(realm: "127.0.0.1", now: now, random: random).first { $0.algorithm == algorithm }!
        return try DigestClient.credentials(for: challenge, method: "REGISTER", uri: "sip:127.0.0.1", username: "2001", password: password, cnonce: "cn", nonceCount: nc)
    }

    @Test func validCredentialsVerifyWithBothAlgorithms() throws {
        var server = DigestServer(secret: secret)
        for (offset, algorithm) in [DigestAlgorithm.sha256, .md5].enumerated() {
            // Each challenge set has its own nonce (here: issued at different times).
            let credentials = try answer(server, now: 1000 + Double(offset), algorithm: algorithm)
            #expect(server.verify(credentials, method: "REGISTER", realm: "127.0.0.1", password: "pw2001", now: 1001) == .valid)
        }
    }

    @Test func wrongPasswordIsInvalid() throws {
        var server = DigestServer(secret: secret)
        let credentials = try answer(server, password: "guess")
        guard case .invalid(let reason) = server.verify(credentials, method: "REGISTER", realm: "127.0.0.1", password: "pw2001", now: 1001) else {
            Issue.record("expected invalid"); return
        }
        #expect(reason.contains("wrong digest response"))
    }

    @Test func expiredNonceIsStale() throws {
        var server = DigestServer(secret: secret, nonceLifetime: 300)
        let credentials = try answer(server, now: 1000)
        #expect(server.verify(credentials, method: "REGISTER", realm: "127.0.0.1", password: "pw2001", now: 1301) == .stale)
    }

    @Test func forgedNonceIsInvalid() throws {
        var server = DigestServer(secret: secret)
        let other = DigestServer(secret: Array(repeating: 9, count: 32))
        let credentials = try answer(other)
        #expect(server.verify(credentials, method: "REGISTER", realm: "127.0.0.1", password: "pw2001", now: 1001) == .invalid(reason: "nonce was not issued by this server"))
    }

    @Test func replayedNonceCountIsCaughtAndIncreasingCountPasses() throws {
        var server = DigestServer(secret: secret)
        let first = try answer(server, nc: 1)
        #expect(server.verify(first, method: "REGISTER", realm: "127.0.0.1", password: "pw2001", now: 1001) == .valid)
        #expect(server.verify(first, method: "REGISTER", realm: "127.0.0.1", password: "pw2001", now: 1002) == .replay)
        let second = try answer(server, nc: 2)
        #expect(server.verify(second, method: "REGISTER", realm: "127.0.0.1", password: "pw2001", now: 1003) == .valid)
    }

    @Test func replayTableIsBounded() throws {
        var server = DigestServer(secret: secret, maxTrackedNonces: 3)
        for n in 0..<10 {
            let challenge = server.challenges(realm: "r", now: Double(n), random: Array(repeating: UInt8(n), count: 12))[0]
            let credentials = try DigestClient.credentials(for: challenge, method: "REGISTER", uri: "sip:r", username: "u", password: "p", cnonce: "c")
            #expect(server.verify(credentials, method: "REGISTER", realm: "r", password: "p", now: Double(n)) == .valid)
        }
        #expect((2...3).contains(server.trackedNonceCount), "never more than 3 tracked; trimmed to three quarters: \(server.trackedNonceCount)")
    }
}
