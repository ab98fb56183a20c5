// The INVITE client transaction (RFC 3261 §17.1.1, Figure 5; RFC 6026 §8.4 Accepted state).

import SIPMessage

public struct InviteClientTransaction: Sendable {
    public enum State: Sendable, Equatable { case calling, proceeding, completed, accepted, terminated }

    public private(set) var state: State = .calling
    public let invite: SIPRequest
    public let reliable: Bool
    let timers: TransactionTimers
    private var timerAInterval: Duration
    private var ack: SIPRequest?

    public init(invite: SIPRequest, reliable: Bool, timers: TransactionTimers = TransactionTimers()) {
        self.invite = invite
        self.reliable = reliable
        self.timers = timers
        self.timerAInterval = timers.t1
    }

    /// Sends the INVITE; Timer A only on unreliable transports (§17.1.1.2), Timer B always.
    public mutating func start() -> [TransactionAction] {
        var actions: [TransactionAction] = [.send(.request(invite))]
        if !reliable { actions.append(.startTimer(.A, timerAInterval)) }
        actions.append(.startTimer(.B, timers.transactionTimeout))
        return actions
    }

    public mutating func receive(_ response: SIPResponse) -> [TransactionAction] {
        switch (state, response.statusCode) {
        case (.calling, 100..<200), (.proceeding, 100..<200):
            let wasCalling = state == .calling
            state = .proceeding
            return (wasCalling && !reliable ? [.cancelTimer(.A)] : []) + [.passToTU(response)]
        case (.calling, 200..<300), (.proceeding, 200..<300):
            // RFC 6026: stay to absorb 2xx retransmissions and pass each to the TU (it sends the ACK).
            state = .accepted
            return [.cancelTimer(.A), .cancelTimer(.B), .passToTU(response), .startTimer(.M, timers.transactionTimeout)]
        case (.accepted, 200..<300):
            return [.passToTU(response)]
        case (.calling, 300...), (.proceeding, 300...):
            // §17.1.1.3: ACK the failure within the transaction, wait out retransmissions (Timer D).
            state = .completed
            let ack = Self.makeACK(for: invite, response: response)
            self.ack = ack
            var actions: [TransactionAction] = [.cancelTimer(.A), .cancelTimer(.B), .send(.request(ack)), .passToTU(response)]
            let d = timers.timerD(reliable: reliable)
            if d == .zero {
                state = .terminated
                actions.append(.terminated)
            } else {
                actions.append(.startTimer(.D, d))
            }
            return actions
        case (.completed, 300...):
            // A retransmitted final response: ACK again, TU not told twice.
            return ack.map { [.send(.request($0))] } ?? []
        default:
            return []
        }
    }

    public mutating func timerFired(_ timer: TransactionTimer) -> [TransactionAction] {
        switch (state, timer) {
        case (.calling, .A):
            // §17.1.1.2: retransmit, doubling the interval each time.
            timerAInterval = timerAInterval * 2
            return [.send(.request(invite)), .startTimer(.A, timerAInterval)]
        case (.calling, .B), (.proceeding, .B):
            state = .terminated
            return [.cancelTimer(.A), .timeout, .terminated]
        case (.completed, .D), (.accepted, .M):
            state = .terminated
            return [.terminated]
        default:
            return []
        }
    }

    public mutating func transportFailed() -> [TransactionAction] {
        switch state {
        case .calling, .proceeding:
            state = .terminated
            return [.cancelTimer(.A), .cancelTimer(.B), .transportError, .terminated]
        case .completed, .accepted:
            return []
        case .terminated:
            return []
        }
    }

    /// The ACK for a non-2xx final response (§17.1.1.3): the INVITE's Request-URI, Call-ID, From,
    /// CSeq number, top Via and Route; To from the response (with its tag).
    public static func makeACK(for invite: SIPRequest, response: SIPResponse) -> SIPRequest {
        var headers = SIPHeaders()
        if let via = invite.headers.values(.via).first {
            headers.add(.via, SIPHeaders.splitCommaList(via).first ?? via)
        }
        headers.add(.maxForwards, "70")
        if let from = invite.headers[.from] { headers.add(.from, from) }
        if let to = response.headers[.to] ?? invite.headers[.to] { headers.add(.to, to) }
        if let callID = invite.callID { headers.add(.callID, callID) }
        headers.add(.cseq, CSeq(invite.cseq?.sequence ?? 1, .ack).description)
        for route in invite.headers.values(.route) { headers.add(.route, route) }
        return SIPRequest(method: .ack, uri: invite.uri, headers: headers)
    }
}
