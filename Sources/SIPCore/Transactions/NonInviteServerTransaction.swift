// The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

import SIPMessage

public struct NonInviteServerTransaction: Sendable {
    public enum State: Sendable, Equatable { case trying, proceeding, completed, terminated }

    public private(set) var state: State = .trying
    public let request: SIPRequest
    public let reliable: Bool
    let timers: TransactionTimers
    private var lastResponse: SIPResponse?
    /// The final response once sent (what a retransmitted request gets again).
    public var finalResponse: SIPResponse? { state == .completed || state == .terminated ? lastResponse : nil }

    public init(request: SIPRequest, reliable: Bool, timers: TransactionTimers = TransactionTimers()) {
        self.request = request
        self.reliable = reliable
        self.timers = timers
    }

    public mutating func respond(_ response: SIPResponse) -> [TransactionAction] {
        guard state == .trying || state == .proceeding else { return [] }
        lastResponse = response
        if response.isProvisional {
            state = .proceeding
            return [.send(.response(response))]
        }
        let j = timers.timerJ(reliable: reliable)
        state = j == .zero ? .terminated : .completed
        return [.send(.response(response)), j == .zero ? .terminated : .startTimer(.J, j)]
    }

    /// A retransmission of the request: absorbed while Trying, answered with the last response after.
    public mutating func receive(_ request: SIPRequest) -> [TransactionAction] {
        switch state {
        case .proceeding, .completed:
            return lastResponse.map { [.send(.response($0))] } ?? []
        default:
            return []
        }
    }

    public mutating func timerFired(_ timer: TransactionTimer) -> [TransactionAction] {
        guard state == .completed, timer == .J else { return [] }
        state = .terminated
        return [.terminated]
    }

    public mutating func transportFailed() -> [TransactionAction] {
        guard state != .terminated else { return [] }
        state = .terminated
        return [.transportError, .terminated]
    }
}
