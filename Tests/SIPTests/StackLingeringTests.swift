// A server transaction that has sent its final response keeps only what it may send again
// (RFC 3261 §17.2, RFC 6026): it must still answer retransmissions, absorb a retransmitted INVITE,
// and answer a late CANCEL with 200 rather than 481, on real loopback sockets.

import NIOCore
import NIOPosix
import SIPMessage
import Testing
import TestSupport
@testable import SIP

@Suite struct StackLingeringTests {
    func request(_ method: String, branch: String, peer: Int, cseq: Int = 1, callID: String = "linger@127.0.0.1") -> String {
        """
        \(method) sip:server@127.0.0.1 SIP/2.0\r
        Via: SIP/2.0/UDP 127.0.0.1:\(peer);branch=\(branch);rport\r
        Max-Forwards: 70\r
        To: <sip:server@127.0.0.1>\r
        From: <sip:client@127.0.0.1>;tag=abc\r
        Call-ID: \(callID)\r
        CSeq: \(cseq) \(method)\r
        Content-Length: 0\r
        \r

        """
    }

    @Test func finishedTransactionsAnswerRetransmissionsAbsorbAndMatchALateCancel() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let transport = SIPTransport(group: group)
        let address = try await transport.listen(.udp, host: "127.0.0.1", port: 0)
        let stack = SIPStack(transport: transport)
        await stack.start()
        let peer = try await RawUDPPeer(group: group)
        // A 100 Trying (sent when the INVITE waits 200 ms for its answer, as it may on a busy machine) is skipped.
        func nextReply(_ what: String) async throws -> String {
            String(decoding: try await peer.received.first(within: 5, what) { !$0.starts(with: Array("SIP/2.0 100 ".utf8)) }, as: UTF8.self)
        }
        let requests = stack.requests

        // A non-INVITE answered once: its retransmission gets the same final response, byte for byte.
        let options = request("OPTIONS", branch: "z9hG4bKlinger-o1", peer: peer.port, callID: "o1@127.0.0.1")
        try await peer.send(options, to: address)
        let first = try await requests.first(within: 5, "the OPTIONS") { _ in true }
        try await stack.respond(SIPResponse(replyingTo: first.request, statusCode: 200, toTag: "once"), to: first)
        let answer = try await nextReply("the 200 to the OPTIONS")
        try await peer.send(options, to: address)
        let again = try await nextReply("the 200 again for the retransmitted OPTIONS")
        #expect(answer.hasPrefix("SIP/2.0 200") && again == answer)

        // An INVITE answered 2xx: a retransmitted INVITE is absorbed (the TU retransmits its 2xx),
        // and a CANCEL that arrives after the answer matches it: 200, no 487.
        let invite = request("INVITE", branch: "z9hG4bKlinger-i1", peer: peer.port, callID: "i1@127.0.0.1")
        try await peer.send(invite, to: address)
        let inviteIn = try await requests.first(within: 5, "the INVITE") { $0.request.method == .invite }
        try await stack.respond(SIPResponse(replyingTo: inviteIn.request, statusCode: 200, toTag: "callee"), to: inviteIn)
        let ok = try await nextReply("the 200 to the INVITE")
        #expect(ok.hasPrefix("SIP/2.0 200") && ok.contains("CSeq: 1 INVITE"))
        try await peer.send(invite, to: address)
        try await peer.send(request("CANCEL", branch: "z9hG4bKlinger-i1", peer: peer.port, callID: "i1@127.0.0.1"), to: address)
        let cancelled = try await nextReply("the answer to the late CANCEL")
        #expect(cancelled.hasPrefix("SIP/2.0 200") && cancelled.contains("CSeq: 1 CANCEL"),
                "the retransmitted INVITE drew nothing, and the CANCEL matched the answered INVITE: \(cancelled.prefix(60))")

        // Neither retransmission reached the TU: the next request it sees is a new one.
        try await peer.send(request("OPTIONS", branch: "z9hG4bKlinger-o2", peer: peer.port, callID: "o2@127.0.0.1"), to: address)
        let next = try await requests.first(within: 5, "the next request") { _ in true }
        #expect(next.request.callID == "o2@127.0.0.1")
        let counts = await stack.transactionCount
        #expect(counts.server == 4, "the OPTIONS, the INVITE and the CANCEL linger until their timers; the new OPTIONS is open")
        await peer.close()
        await stack.shutdown()
    }
}
