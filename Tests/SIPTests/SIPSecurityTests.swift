// The call server as an attacker on loopback meets it: a digest brute force is banned in process
// while a phone at another address keeps registering and calling; unknown and known extensions
// get the same answer (svwar finds none); a challenge to an unauthenticated INVITE is not
// retransmitted (no amplification); a user cannot register more devices than allowed.

import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TestSupport
import Testing

@Suite(.serialized, .realPeers) struct SIPSecurityTests {
    static func register(_ user: String, n: Int, from peer: RawUDPPeer, host: String, pbx: PBXProcess, authorization: String? = nil) -> String {
        """
        REGISTER sip:127.0.0.1:\(pbx.port) SIP/2.0\r
        Via: SIP/2.0/UDP \(host):\(peer.port);branch=z9hG4bKguess\(n);rport\r
        Max-Forwards: 70\r
        From: <sip:\(user)@127.0.0.1>;tag=g\(n)\r
        To: <sip:\(user)@127.0.0.1>\r
        Call-ID: guess-\(n)@\(host)\r
        CSeq: 1 REGISTER\r
        Contact: <sip:\(user)@\(host):\(peer.port)>\r
        \(authorization.map { "Authorization: \($0)\r\n" } ?? "")Content-Length: 0\r
        \r

        """
    }

    static func wrongDigest(_ user: String, n: Int) -> String {
        #"Digest username="\#(user)", realm="127.0.0.1", nonce="guess\#(n)", uri="sip:127.0.0.1", response="\#(String(repeating: "0", count: 32))", algorithm=MD5"#
    }

    /// Replies counted as they come (first lines only).
    final class Replies: Sendable {
        let lines = Mutex<[String]>([])
        func count(_ prefix: String) -> Int { lines.withLock { $0.filter { $0.hasPrefix(prefix) }.count } }
    }

    static func collect(_ peer: RawUDPPeer) -> (Replies, Task<Void, Never>) {
        let replies = Replies()
        let task = Task {
            for await datagram in peer.received {
                let line = String(decoding: datagram.prefix(while: { $0 != 13 }), as: UTF8.self)
                replies.lines.withLock { $0.append(line) }
            }
        }
        return (replies, task)
    }

    @Test func aBruteForceIsBannedWhileAPhoneAtAnotherAddressKeepsRegisteringAndCalling() async throws {
        let pbx = try await PBXProcess.start(extra: "security: { authFailures: 20, authWindowSeconds: 60, banSeconds: 120 }")
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let attacker = try await RawUDPPeer(group: MultiThreadedEventLoopGroup.singleton, host: "127.0.0.1")
        let (replies, collecting) = Self.collect(attacker)
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: pbx.port)
        // 10,000 wrong passwords for 2001, in bursts of 100 every 20 ms (5,000 a second): as a
        // guesser on a network would, without starving the tests that run beside this one.
        for n in 0..<10_000 {
            try await attacker.send(Self.register("2001", n: n, from: attacker, host: "127.0.0.1", pbx: pbx, authorization: Self.wrongDigest("2001", n: n)), to: target)
            if n % 100 == 99 { try await Task.sleep(for: .milliseconds(20)) }
        }
        let banned = try await events.next("the guessing address banned", within: 20) { $0["type"] == "security.banned" }
        #expect(banned["address"] == "127.0.0.1" && banned["reason"] == "digest failures", "\(banned)")
        // The phone at 127.0.0.2 registers (as 2002, answering with SIPp) and 2001 calls it from there.
        let uasPort = ExternalProcess.freePort()
        let callee = try SIPp.start("bench_uas.xml", from: SIPp.scriptScenarios, remote: nil, localPort: uasPort, service: "2002", localIP: "127.0.0.2")
        defer { callee.terminate() }
        try await SIPp.registerCallee("2002", pbxPort: pbx.port, uasPort: uasPort, localIP: "127.0.0.2")
        let call = try SIPp.start("bench_call.xml", from: SIPp.scriptScenarios, remote: "127.0.0.1:\(pbx.port)", localPort: ExternalProcess.freePort(),
                                  service: "2002", extra: ["-au", "2001", "-ap", "pw2001", "-set", "caller", "2001"], localIP: "127.0.0.2")
        try await SIPp.expectSuccess(call, within: 30)
        try await SIPp.expectSuccess(callee, within: 30)
        // The guesser heard back for about the threshold's worth of its 10,000 tries, then nothing:
        // not even the right password is answered while the ban lasts.
        let answered = replies.count("SIP/2.0 401")
        #expect(answered >= 20 && answered <= 60, "\(answered) challenges answered of 10,000 guesses (threshold 20)")
        let before = replies.lines.withLock { $0.count }
        try await attacker.send(Self.register("2001", n: 10_001, from: attacker, host: "127.0.0.1", pbx: pbx), to: target)
        // The same REGISTER from 127.0.0.2 is answered, so the silence is the ban, not the network.
        let other = try await RawUDPPeer(group: MultiThreadedEventLoopGroup.singleton, host: "127.0.0.2")
        let (otherReplies, otherCollecting) = Self.collect(other)
        try await other.send(Self.register("2001", n: 10_002, from: other, host: "127.0.0.2", pbx: pbx), to: target)
        try await withTimeout(5, "127.0.0.2 to be challenged") { while otherReplies.count("SIP/2.0 401") == 0 { try await Task.sleep(for: .milliseconds(10)) } }
        #expect(replies.lines.withLock { $0.count } == before, "the banned address got no answer")
        collecting.cancel(); otherCollecting.cancel()
        await attacker.close(); await other.close()
        await events.close()
    }

    @Test func unknownAndKnownExtensionsGetTheSameAnswerSoSvwarFindsNone() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let peer = try await RawUDPPeer(group: MultiThreadedEventLoopGroup.singleton)
        let (replies, collecting) = Self.collect(peer)
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: pbx.port)
        try await peer.send(Self.register("2001", n: 1, from: peer, host: "127.0.0.1", pbx: pbx), to: target)
        try await peer.send(Self.register("2999", n: 2, from: peer, host: "127.0.0.1", pbx: pbx), to: target)
        try await withTimeout(5, "both REGISTERs answered") { while replies.lines.withLock({ $0.count }) < 2 { try await Task.sleep(for: .milliseconds(10)) } }
        #expect(replies.lines.withLock { $0 } == ["SIP/2.0 401 Unauthorized", "SIP/2.0 401 Unauthorized"], "an existing and a missing extension alike")
        collecting.cancel()
        await peer.close()
        // svwar (Debian sipvicious) over 2000–2010, which holds 2001–2004.
        let svwar = try ExternalProcess("svwar", ["-e2000-2010", "-p", String(pbx.port), "-b", "127.0.0.1", "127.0.0.1"], name: "svwar")
        _ = try await svwar.waitForExit(within: 60)
        let output = svwar.outputTail(8000)
        #expect(output.contains("found nothing"), "svwar's verdict:\n\(output)")
        for user in ["2001", "2002", "2003", "2004"] {
            #expect(!output.contains("| \(user) "), "svwar listed \(user):\n\(output)")
        }
    }

    @Test func aChallengeToAnUnauthenticatedINVITEIsNotRetransmitted() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let peer = try await RawUDPPeer(group: MultiThreadedEventLoopGroup.singleton)
        let (replies, collecting) = Self.collect(peer)
        let invite = """
        INVITE sip:2002@127.0.0.1:\(pbx.port) SIP/2.0\r
        Via: SIP/2.0/UDP 127.0.0.1:\(peer.port);branch=z9hG4bKamplify;rport\r
        Max-Forwards: 70\r
        From: <sip:2001@127.0.0.1>;tag=amp\r
        To: <sip:2002@127.0.0.1>\r
        Call-ID: amplify@127.0.0.1\r
        CSeq: 1 INVITE\r
        Content-Length: 0\r
        \r

        """
        try await peer.send(invite, to: try SocketAddress(ipAddress: "127.0.0.1", port: pbx.port))
        try await withTimeout(5, "the 407") { while replies.count("SIP/2.0 407") == 0 { try await Task.sleep(for: .milliseconds(10)) } }
        // Timer G would resend it at 0.5, 1.5 and 3.5 s; it must not, as the INVITE is never ACKed.
        try await Task.sleep(for: .seconds(4))
        #expect(replies.count("SIP/2.0 407") == 1, "one 407 for one INVITE: \(replies.lines.withLock { $0 })")
        collecting.cancel()
        await peer.close()
    }

    @Test func idleConnectionsAreCappedPerSourceAndClosedSoonUntilSomethingAuthenticates() async throws {
        let pbx = try await PBXProcess.start(extra: "security: { maxConnectionsPerSource: 20, unauthenticatedIdleSeconds: 2 }")
        defer { pbx.process.terminate() }
        let group = MultiThreadedEventLoopGroup.singleton
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: pbx.port)
        var peers: [RawTCPPeer] = []
        for _ in 0..<25 { peers.append(try await RawTCPPeer(group: group, to: address)) }
        // Beyond twenty from one address, each is closed as soon as it is accepted.
        for peer in peers[20...] { try await peer.waitForClose(within: 5) }
        // A connection that is used (a REGISTER, challenged) but never authenticates is closed by
        // the short idle timer too, as are the silent ones.
        let used = peers[0]
        try await used.send(Self.tcpRegister(port: pbx.port))
        _ = try await used.receive(within: 5) { $0.contains("401 Unauthorized") }
        for peer in peers[..<20] { try await peer.waitForClose(within: 10) }
        // The slots are free again.
        let again = try await RawTCPPeer(group: group, to: address)
        try await again.send(Self.tcpRegister(port: pbx.port))
        _ = try await again.receive(within: 5) { $0.contains("401 Unauthorized") }
        await again.close()
        for peer in peers { await peer.close() }
    }

    static func tcpRegister(port: Int) -> String {
        """
        REGISTER sip:127.0.0.1:\(port) SIP/2.0\r
        Via: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK\(UUID().uuidString.prefix(8))\r
        Max-Forwards: 70\r
        From: <sip:2001@127.0.0.1>;tag=t\r
        To: <sip:2001@127.0.0.1>\r
        Call-ID: \(UUID().uuidString)@127.0.0.1\r
        CSeq: 1 REGISTER\r
        Contact: <sip:2001@127.0.0.1:5099;transport=tcp>\r
        Content-Length: 0\r
        \r

        """
    }
}
