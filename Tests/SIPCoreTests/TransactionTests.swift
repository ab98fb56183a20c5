// The four RFC 3261 §17 transaction state machines, driven without sockets or clocks.

import SIPMessage
import Testing
@testable import SIPCore

func request(_ method: SIPMethod, branch: String = "z9hG4bKabc", transport: String = "UDP") -> SIPRequest {
    let text = """
    \(method) sip:2002@127.0.0.1 SIP/2.0\r
    Via: SIP/2.0/\(transport) 127.0.0.1:5070;branch=\(branch)\r
    Max-Forwards: 70\r
    To: <sip:2002@127.0.0.1>\r
    From: <sip:2001@127.0.0.1>;tag=f1\r
    Call-ID: call-1\r
    CSeq: 7 \(method)\r
    Route: <sip:proxy.example;lr>\r
    Content-Length: 0\r
    \r

    """
    return try! SIPParser().parse(text).request!
}

func reply(_ request: SIPRequest, _ code: Int) -> SIPResponse {
    SIPResponse(replyingTo: request, statusCode: code, toTag: code > 100 ? "t9" : nil)
}

func sentStatus(_ actions: [TransactionAction]) -> [Int] {
    actions.compactMap { if case .send(.response(let r)) = $0 { return r.statusCode } else { return nil } }
}

@Suite struct InviteClientTransactionTests {
    let timers = TransactionTimers()

    @Test func timerADoublesUntilTimerBTimesOut() {
        var txn = InviteClientTransaction(invite: request(.invite), reliable: false)
        #expect(txn.start() == [.send(.request(txn.invite)), .startTimer(.A, .milliseconds(500)), .startTimer(.B, .seconds(32))])
        var intervals: [Duration] = []
        for _ in 0..<6 {
            for action in txn.timerFired(.A) { if case .startTimer(.A, let d) = action { intervals.append(d) } }
        }
        #expect(intervals == [1, 2, 4, 8, 16, 32].map { .seconds($0) })
        #expect(txn.timerFired(.B) == [.cancelTimer(.A), .timeout, .terminated])
        #expect(txn.state == .terminated)
    }

    @Test func reliableTransportHasNoRetransmissionTimer() {
        var txn = InviteClientTransaction(invite: request(.invite, transport: "TCP"), reliable: true)
        #expect(txn.start() == [.send(.request(txn.invite)), .startTimer(.B, .seconds(32))])
        let failure = reply(txn.invite, 486)
        let actions = txn.receive(failure)
        #expect(actions.last == .terminated, "Timer D is zero on a reliable transport")
    }

    @Test func failureIsAcknowledgedInsideTheTransaction() throws {
        var txn = InviteClientTransaction(invite: request(.invite), reliable: false)
        _ = txn.start()
        #expect(txn.receive(reply(txn.invite, 180)) == [.cancelTimer(.A), .passToTU(reply(txn.invite, 180))])
        let busy = reply(txn.invite, 486)
        let actions = txn.receive(busy)
        guard case .send(.request(let ack)) = actions[2] else { Issue.record("no ACK sent"); return }
        #expect(ack.method == .ack)
        #expect(ack.uri == txn.invite.uri)
        #expect(ack.cseq == CSeq(7, .ack))
        #expect(ack.to?.tag == "t9")
        #expect(ack.topVia?.branch == "z9hG4bKabc")
        #expect(ack.routes.count == 1)
        #expect(actions[3] == .passToTU(busy))
        #expect(actions[4] == .startTimer(.D, .seconds(32)))
        // A retransmitted 486 is ACKed again without bothering the TU.
        #expect(txn.receive(busy) == [.send(.request(ack))])
        #expect(txn.timerFired(.D) == [.terminated])
    }

    @Test func everyRetransmitted2xxGoesToTheTU() {
        var txn = InviteClientTransaction(invite: request(.invite), reliable: false)
        _ = txn.start()
        let ok = reply(txn.invite, 200)
        #expect(txn.receive(ok) == [.cancelTimer(.A), .cancelTimer(.B), .passToTU(ok), .startTimer(.M, .seconds(32))])
        #expect(txn.receive(ok) == [.passToTU(ok)])
        #expect(txn.timerFired(.M) == [.terminated])
    }

    @Test func transportErrorEndsTheTransaction() {
        var txn = InviteClientTransaction(invite: request(.invite), reliable: false)
        _ = txn.start()
        #expect(txn.transportFailed() == [.cancelTimer(.A), .cancelTimer(.B), .transportError, .terminated])
        #expect(txn.receive(reply(txn.invite, 200)) == [], "stray input after termination is ignored")
    }
}

@Suite struct NonInviteClientTransactionTests {
    @Test func timerEDoublesToT2AndStaysAtT2InProceeding() {
        var txn = NonInviteClientTransaction(request: request(.options), reliable: false)
        _ = txn.start()
        var intervals: [Duration] = []
        for _ in 0..<5 {
            for action in txn.timerFired(.E) { if case .startTimer(.E, let d) = action { intervals.append(d) } }
        }
        #expect(intervals == [.seconds(1), .seconds(2), .seconds(4), .seconds(4), .seconds(4)])
        _ = txn.receive(reply(txn.request, 100))
        #expect(txn.timerFired(.E) == [.send(.request(txn.request)), .startTimer(.E, .seconds(4))])
        #expect(txn.timerFired(.F) == [.cancelTimer(.E), .timeout, .terminated])
    }

    @Test func finalResponseCompletesThenTimerKTerminates() {
        var txn = NonInviteClientTransaction(request: request(.options), reliable: false)
        _ = txn.start()
        let ok = reply(txn.request, 200)
        #expect(txn.receive(ok) == [.cancelTimer(.E), .cancelTimer(.F), .passToTU(ok), .startTimer(.K, .seconds(5))])
        #expect(txn.receive(ok) == [], "retransmissions are absorbed")
        #expect(txn.timerFired(.K) == [.terminated])
    }
}

@Suite struct InviteServerTransactionTests {
    @Test func sendsTryingItselfWhenTheTUIsSlow() {
        var txn = InviteServerTransaction(invite: request(.invite), reliable: false)
        #expect(txn.start() == [.startTimer(.trying, .milliseconds(200))])
        #expect(sentStatus(txn.timerFired(.trying)) == [100])
        // A retransmitted INVITE gets the 100 again.
        #expect(sentStatus(txn.receive(request(.invite))) == [100])
    }

    @Test func failureIsRetransmittedUntilACKThenTimerI() {
        var txn = InviteServerTransaction(invite: request(.invite), reliable: false)
        _ = txn.start()
        let busy = reply(txn.invite, 486)
        #expect(txn.respond(busy) == [.cancelTimer(.trying), .send(.response(busy)), .startTimer(.G, .milliseconds(500)), .startTimer(.H, .seconds(32))])
        var intervals: [Duration] = []
        for _ in 0..<4 {
            for action in txn.timerFired(.G) { if case .startTimer(.G, let d) = action { intervals.append(d) } }
        }
        #expect(intervals == [.seconds(1), .seconds(2), .seconds(4), .seconds(4)])
        #expect(txn.receive(request(.ack)) == [.cancelTimer(.G), .cancelTimer(.H), .startTimer(.I, .seconds(5))])
        #expect(txn.state == .confirmed)
        #expect(txn.timerFired(.I) == [.terminated])
    }

    @Test func missingACKTimesOut() {
        var txn = InviteServerTransaction(invite: request(.invite), reliable: true)
        _ = txn.respond(reply(txn.invite, 603))
        #expect(txn.timerFired(.H) == [.cancelTimer(.G), .timeout, .terminated])
    }

    @Test func successMovesToAcceptedUntilTimerL() {
        var txn = InviteServerTransaction(invite: request(.invite), reliable: false)
        let ok = reply(txn.invite, 200)
        #expect(txn.respond(ok) == [.cancelTimer(.trying), .send(.response(ok)), .startTimer(.L, .seconds(32))])
        #expect(txn.receive(request(.invite)) == [], "retransmitted INVITEs are absorbed in Accepted")
        #expect(txn.receive(request(.ack)) == [], "the ACK for a 2xx belongs to the dialog")
        #expect(txn.timerFired(.L) == [.terminated])
    }
}

@Suite struct NonInviteServerTransactionTests {
    @Test func retransmittedRequestGetsTheLastResponse() {
        var txn = NonInviteServerTransaction(request: request(.options), reliable: false)
        #expect(txn.receive(request(.options)) == [], "nothing to resend while Trying")
        _ = txn.respond(reply(txn.request, 200))
        #expect(sentStatus(txn.receive(request(.options))) == [200])
        #expect(txn.timerFired(.J) == [.terminated])
    }

    @Test func reliableTransportTerminatesAtOnce() {
        var txn = NonInviteServerTransaction(request: request(.options, transport: "TCP"), reliable: true)
        #expect(txn.respond(reply(txn.request, 200)).last == .terminated)
    }
}

@Suite struct TransactionMatchingTests {
    @Test func responseMatchesByBranchAndMethod() {
        let invite = request(.invite)
        #expect(TransactionKey.client(for: reply(invite, 200)) == .client(branch: "z9hG4bKabc", method: .invite))
        #expect(TransactionKey.client(for: reply(request(.cancel), 200)) != .client(branch: "z9hG4bKabc", method: .invite))
    }

    @Test func ackAndCancelFindTheInviteTransaction() {
        let invite = request(.invite)
        let key = TransactionKey.server(for: invite)
        #expect(TransactionKey.server(for: request(.ack)) == key)
        #expect(TransactionKey.server(for: request(.cancel), asMethod: .invite) == key)
        #expect(TransactionKey.server(for: request(.cancel)) != key)
    }

    @Test func rfc2543RequestsMatchWithoutTheMagicCookie() {
        let invite = request(.invite, branch: "old1")
        let retransmission = request(.invite, branch: "old1")
        #expect(TransactionKey.server(for: invite) == TransactionKey.server(for: retransmission))
        #expect(TransactionKey.server(for: request(.ack, branch: "old1")) == TransactionKey.server(for: invite))
        #expect(TransactionKey.server(for: request(.invite, branch: "old2")) != TransactionKey.server(for: invite))
    }

    @Test func cancelCopiesTheInviteIdentity() {
        let cancel = request(.invite).makeCancel()
        #expect(cancel.method == .cancel)
        #expect(cancel.cseq == CSeq(7, .cancel))
        #expect(cancel.topVia?.branch == "z9hG4bKabc")
        #expect(cancel.routes.count == 1)
    }

    @Test func branchesCarryTheMagicCookieAndDiffer() {
        var generator = SystemRandomNumberGenerator()
        let a = BranchGenerator.make(using: &generator)
        let b = BranchGenerator.make(using: &generator)
        #expect(a.hasPrefix("z9hG4bK") && a != b)
    }
}
