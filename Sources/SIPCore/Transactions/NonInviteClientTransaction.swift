// The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).

import SIPMessage

public struct NonInviteClientTransaction: Sendable {
    public enum State: Sendable, Equatable { case trying, proceeding, completed, terminated }

    public private(set) var state: State = .trying
    public let request: SIPRequest
    public let reliable: Bool
    let timers: TransactionTimers
    private var timerEInterval: Duration

    public init(request: SIPRequest, reliable: Bool, timers: TransactionTimers = TransactionTimers()) {
        self.request = request
        self.reliable = reliable
        self.timers = timers
        self.timerEInterval = timers.t1
    }

    public mutating func start() -> [TransactionAction] {
        var actions: [TransactionAction] = [.send(.request(request))]
        if !reliable { actions.append(.startTimer(.E, timerEInterval)) }
        actions.append(.startTimer(.F, timers.transactionTimeout))
        return actions
    }

    public mutating func receive(_ response: SIPResponse) -> [TransactionAction] {
        switch (state, response.isProvisional) {
        case (.trying, true), (.proceeding, true):
            state = .proceeding
            return [.passToTU(response)]
        case (.trying, false), (.proceeding, false):
            state = .completed
            var actions: [TransactionAction] = [.cancelTimer(.E), .cancelTimer(.F), .passToTU(response)]
            let k = timers.timerK(reliable: reliable)
            if k == .zero {
                state = .terminated
                actions.append(.terminated)
            } else {
                actions.append(.startTimer(.K, k))
            }
            return actions
        default:
            return []  // retransmissions in Completed are absorbed
        }
    }

    public mutating func timerFired(_ timer: TransactionTimer) -> [TransactionAction] {
        switch (state, timer) {
        case (.trying, .E):
            // §17.1.2.2: E doubles up to T2 while Trying...
            timerEInterval = min(timerEInterval * 2, timers.t2)
            return [.send(.request(request)), .startTimer(.E, timerEInterval)]
        case (.proceeding, .E):
            // ...and stays at T2 once a provisional response came.
            timerEInterval = timers.t2
            return [.send(.request(request)), .startTimer(.E, timers.t2)]
        case (.trying, .F), (.proceeding, .F):
            state = .terminated
            return [.cancelTimer(.E), .timeout, .terminated]
        case (.completed, .K):
            state = .terminated
            return [.terminated]
        default:
            return []
        }
    }

    public mutating func transportFailed() -> [TransactionAction] {
        guard state == .trying || state == .proceeding else { return [] }
        state = .terminated
        return [.cancelTimer(.E), .cancelTimer(.F), .transportError, .terminated]
    }
}
