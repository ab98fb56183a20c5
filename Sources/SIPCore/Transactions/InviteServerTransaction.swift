// The INVITE server transaction (RFC 3261 §17.2.1, Figure 7; RFC 6026 §7.1 Accepted state).

import SIPMessage

public struct InviteServerTransaction: Sendable {
    public enum State: Sendable, Equatable { case proceeding, completed, confirmed, accepted, terminated }

    public private(set) var state: State = .proceeding
    public let invite: SIPRequest
    public let reliable: Bool
    let timers: TransactionTimers
    private var lastResponse: SIPResponse?
    private var timerGInterval: Duration

    public init(invite: SIPRequest, reliable: Bool, timers: TransactionTimers = TransactionTimers()) {
        self.invite = invite
        self.reliable = reliable
        self.timers = timers
        self.timerGInterval = timers.t1
    }

    /// The INVITE has been handed to the TU: give it 200 ms to answer before sending 100 Trying.
    public mutating func start() -> [TransactionAction] {
        [.startTimer(.trying, timers.tryingDelay)]
    }

    /// A response from the TU. With `retransmit` false a final non-2xx is sent once and again only
    /// for each retransmitted INVITE (no Timer G): a refusal or challenge to a sender that never
    /// proved who it is then reflects no more than it receives (no amplification).
    public mutating func respond(_ response: SIPResponse, retransmit: Bool = true) -> [TransactionAction] {
        guard state == .proceeding else { return [] }
        lastResponse = response
        switch response.statusCode {
        case 100..<200:
            return [.cancelTimer(.trying), .send(.response(response))]
        case 200..<300:
            // RFC 6026: the TU retransmits the 2xx; the transaction absorbs ACKs and retransmitted INVITEs.
            state = .accepted
            return [.cancelTimer(.trying), .send(.response(response)), .startTimer(.L, timers.transactionTimeout)]
        default:
            state = .completed
            var actions: [TransactionAction] = [.cancelTimer(.trying), .send(.response(response))]
            if !reliable && retransmit { actions.append(.startTimer(.G, timerGInterval)) }
            actions.append(.startTimer(.H, timers.transactionTimeout))
            return actions
        }
    }

    /// A retransmitted INVITE or the ACK for a non-2xx response.
    public mutating func receive(_ request: SIPRequest) -> [TransactionAction] {
        if request.method == .ack {
            guard state == .completed else { return [] }  // in Accepted the ACK belongs to the dialog
            let i = timers.timerI(reliable: reliable)
            state = i == .zero ? .terminated : .confirmed
            var actions: [TransactionAction] = [.cancelTimer(.G), .cancelTimer(.H)]
            actions.append(i == .zero ? .terminated : .startTimer(.I, i))
            return actions
        }
        switch state {
        case .proceeding, .completed:
            // §17.2.1: a retransmitted INVITE gets the last response again.
            return lastResponse.map { [.send(.response($0))] } ?? []
        default:
            return []
        }
    }

    public mutating func timerFired(_ timer: TransactionTimer) -> [TransactionAction] {
        switch (state, timer) {
        case (.proceeding, .trying):
            guard lastResponse == nil else { return [] }
            let trying = SIPResponse(replyingTo: invite, statusCode: 100)
            lastResponse = trying
            return [.send(.response(trying))]
        case (.completed, .G):
            // §17.2.1: G doubles up to T2.
            timerGInterval = min(timerGInterval * 2, timers.t2)
            return (lastResponse.map { [.send(.response($0))] } ?? []) + [.startTimer(.G, timerGInterval)]
        case (.completed, .H):
            state = .terminated
            return [.cancelTimer(.G), .timeout, .terminated]
        case (.confirmed, .I), (.accepted, .L):
            state = .terminated
            return [.terminated]
        default:
            return []
        }
    }

    public mutating func transportFailed() -> [TransactionAction] {
        guard state != .terminated else { return [] }
        state = .terminated
        return [.cancelTimer(.G), .cancelTimer(.H), .cancelTimer(.trying), .transportError, .terminated]
    }
}
