// Inputs the fuzzer (scripts/fuzz sdp) found crashing the parser, replayed: each must parse or
// be refused with an error, never crash. And the m= line's port forms one by one.

import Foundation
import Testing
@testable import SDP

@Suite struct SDPRegressionTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/regressions-sdp")

    @Test func everyKeptFuzzCrashParsesOrIsRefused() throws {
        let files = try FileManager.default.contentsOfDirectory(at: Self.folder, includingPropertiesForKeys: nil)
        #expect(!files.isEmpty)
        for file in files {
            let text = String(decoding: try Data(contentsOf: file), as: UTF8.self)
            _ = try? SessionDescription(parsing: text)  // reaching the next line is the test
        }
    }

    @Test func aLineWithANULOrABareCRIsRefused() {
        let base = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n"
        #expect((try? SessionDescription(parsing: base)) != nil)
        for bad in [base.replacingOccurrences(of: "s=-", with: "s=a\u{0}b"), base.replacingOccurrences(of: "s=-", with: "s=a\rb")] {
            #expect(throws: SDPError.self) { try SessionDescription(parsing: bad) }
        }
    }

    @Test(arguments: [("5004", true), ("5004/2", true), ("/", false), ("5004/", false), ("/2", false), ("5004/0", false), ("5004/2/3", false), ("x", false)])
    func theMediaPortIsAPortOrAPortAndACount(port: String, valid: Bool) {
        let text = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(port) RTP/AVP 0\r\n"
        #expect(((try? SessionDescription(parsing: text)) != nil) == valid, "m=audio \(port)")
    }
}
