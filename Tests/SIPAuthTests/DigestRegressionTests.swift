// Inputs the fuzzer (scripts/fuzz digest) found breaking a property of the digest parsers,
// replayed with the same properties: a challenge or credentials that parse write a header value
// that parses back to the same.

import Foundation
import Testing
@testable import SIPAuth

@Suite struct DigestRegressionTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/regressions-digest")

    @Test func everyKeptFuzzInputRoundTrips() throws {
        let files = try FileManager.default.contentsOfDirectory(at: Self.folder, includingPropertiesForKeys: nil)
        #expect(files.count >= 2)
        for file in files {
            let text = String(decoding: try Data(contentsOf: file), as: UTF8.self)
            if let challenge = try? DigestChallenge(parsing: text) {
                #expect((try? DigestChallenge(parsing: challenge.headerValue)) == challenge, "\(file.lastPathComponent): \(challenge.headerValue)")
            }
            if let credentials = try? DigestCredentials(parsing: text) {
                #expect((try? DigestCredentials(parsing: credentials.headerValue)) == credentials, "\(file.lastPathComponent): \(credentials.headerValue)")
            }
        }
    }

    @Test func aChallengeKeepsAnAlgorithmItDoesNotSupport() throws {
        let challenge = try DigestChallenge(parsing: #"Digest realm="r", nonce="n", algorithm=SHA-512-256"#)
        #expect(challenge.headerValue.contains("algorithm=SHA-512-256"))
        #expect(!challenge.headerValue.contains("MD5"))
    }

    @Test func emptyQopEntriesNameNoOption() throws {
        let challenge = try DigestChallenge(parsing: "Digest realm=\"r\", nonce=\"n\", qop=\"\t, auth,,\"")
        #expect(challenge.qop == ["auth"])
    }
}

extension DigestRegressionTests {
    @Test func credentialsWithAQopThatIsNotOneTokenAreRefused() {
        let base = #"Digest username="2001", realm="r", nonce="n", uri="sip:r", response="00", cnonce="c", nc=00000001, qop="#
        #expect((try? DigestCredentials(parsing: base + "auth")) != nil)
        #expect((try? DigestCredentials(parsing: base + #""auth""#)) != nil, "quoted, as some clients send it")
        #expect(throws: DigestError.self) { try DigestCredentials(parsing: base + #""auth,auth-int""#) }
        #expect(throws: DigestError.self) { try DigestCredentials(parsing: base + #""""#) }
    }
}
