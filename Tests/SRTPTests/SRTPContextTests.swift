// The SRTP transform between two ends keyed as SDES leaves them: what one protects the other
// takes back; a changed byte, a replay, the wrong key or a short packet is refused.

import Testing
import SDP
@testable import SRTP

@Suite struct SRTPContextTests {
    static let a = (0..<30).map { UInt8($0) }
    static let b = (0..<30).map { UInt8(200 - $0) }

    static func rtp(sequence: UInt16, payload: [UInt8] = Array(repeating: 0x55, count: 160)) -> [UInt8] {
        [0x80, 0x00, UInt8(sequence >> 8), UInt8(sequence & 0xFF), 0, 0, 0x01, 0x40, 0xDE, 0xAD, 0xBE, 0xEF] + payload
    }

    @Test(arguments: SRTPSuite.allCases)
    func whatOneSideProtectsTheOtherTakesBack(suite: SRTPSuite) throws {
        let alice = try SRTPContext(keys: SRTPKeys(suite: suite, local: Self.a, remote: Self.b))
        let bob = try SRTPContext(keys: SRTPKeys(suite: suite, local: Self.b, remote: Self.a))
        let plain = Self.rtp(sequence: 1000)
        let protected = try alice.protect(rtp: plain)
        #expect(protected.count == plain.count + (suite == .aesCM128HmacSHA1_80 ? 10 : 4))
        #expect(Array(protected[0..<12]) == Array(plain[0..<12]), "the header stays in clear")
        #expect(Array(protected[12..<172]) != Array(plain[12..<172]), "the payload is encrypted")
        #expect(try bob.unprotect(rtp: protected) == plain)
        // And the other way.
        let reply = Self.rtp(sequence: 7)
        #expect(try alice.unprotect(rtp: try bob.protect(rtp: reply)) == reply)
    }

    @Test func aChangedByteAReplayAndTheWrongKeyAreRefused() throws {
        let alice = try SRTPContext(keys: SRTPKeys(suite: .aesCM128HmacSHA1_80, local: Self.a, remote: Self.b))
        let bob = try SRTPContext(keys: SRTPKeys(suite: .aesCM128HmacSHA1_80, local: Self.b, remote: Self.a))
        let stranger = try SRTPContext(keys: SRTPKeys(suite: .aesCM128HmacSHA1_80, local: Self.b, remote: Self.b))
        let protected = try alice.protect(rtp: Self.rtp(sequence: 1))
        var tampered = protected
        tampered[40] ^= 0x01
        #expect(throws: SRTPError.self) { try bob.unprotect(rtp: tampered) }
        #expect((try? stranger.unprotect(rtp: protected)) == nil)
        _ = try bob.unprotect(rtp: protected)
        do {
            _ = try bob.unprotect(rtp: protected)
            Issue.record("a replayed packet was accepted")
        } catch {
            #expect(error.isPacketRejected, "\(error)")
        }
        #expect(throws: SRTPError.self) { try bob.unprotect(rtp: [0x80, 0, 0]) }
    }

    @Test func rtcpIsProtectedWithAnIndexAndTag() throws {
        let alice = try SRTPContext(keys: SRTPKeys(suite: .aesCM128HmacSHA1_32, local: Self.a, remote: Self.b))
        let bob = try SRTPContext(keys: SRTPKeys(suite: .aesCM128HmacSHA1_32, local: Self.b, remote: Self.a))
        // A receiver report with no blocks and an SDES CNAME chunk.
        let report: [UInt8] = [0x80, 201, 0, 1, 0xDE, 0xAD, 0xBE, 0xEF, 0x81, 202, 0, 3, 0xDE, 0xAD, 0xBE, 0xEF, 1, 3, 0x61, 0x62, 0x63, 0, 0, 0]
        let protected = try alice.protect(rtcp: report)
        #expect(protected.count == report.count + 4 + 10, "E flag and index, then an 80-bit tag whatever the suite")
        #expect(try bob.unprotect(rtcp: protected) == report)
    }

    @Test func aKeyOfTheWrongLengthIsRefused() {
        #expect(throws: SRTPError.self) { try SRTPContext(keys: SRTPKeys(suite: .aesCM128HmacSHA1_80, local: [1, 2, 3], remote: Self.b)) }
    }
}
