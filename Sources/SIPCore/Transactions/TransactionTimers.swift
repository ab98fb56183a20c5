// Transaction timer values (RFC 3261 §17, Table 4; RFC 6026 adds L and M).

import SIPMessage

public struct TransactionTimers: Sendable, Hashable {
    /// RTT estimate (default 500 ms).
    public var t1: Duration
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    public var t2: Duration
    /// Maximum time a message stays in the network (default 5 s).
    public var t4: Duration

    public init(t1: Duration = .milliseconds(500), t2: Duration = .seconds(4), t4: Duration = .seconds(5)) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
    }

    /// Timers B, F, H, J, L, M: 64*T1.
    public var transactionTimeout: Duration { t1 * 64 }
    /// Timer D: wait for response retransmissions (≥ 32 s on unreliable transports, 0 on reliable).
    public func timerD(reliable: Bool) -> Duration { reliable ? .zero : max(.seconds(32), t1 * 64) }
    /// Timer I: wait for ACK retransmissions.
    public func timerI(reliable: Bool) -> Duration { reliable ? .zero : t4 }
    /// Timer J: wait for non-INVITE request retransmissions.
    public func timerJ(reliable: Bool) -> Duration { reliable ? .zero : t1 * 64 }
    /// Timer K: wait for non-INVITE response retransmissions.
    public func timerK(reliable: Bool) -> Duration { reliable ? .zero : t4 }
    /// How long an INVITE server transaction waits for the TU before sending 100 Trying itself (§17.2.1).
    public var tryingDelay: Duration { .milliseconds(200) }
}

/// The timers a transaction can ask for.
public enum TransactionTimer: String, Sendable, Hashable, CaseIterable {
    case A, B, D, E, F, G, H, I, J, K, L, M
    /// The INVITE server transaction's 200 ms wait before it answers 100 Trying itself.
    case trying
}

/// What a transaction asks of the runtime after an input.
public enum TransactionAction: Sendable, Equatable {
    /// Hand this message to the transport (a request, an ACK, or a response).
    case send(SIPMessage)
    /// Pass this response to the transaction user (client transactions).
    case passToTU(SIPResponse)
    case startTimer(TransactionTimer, Duration)
    case cancelTimer(TransactionTimer)
    /// The transaction gave up waiting: Timer B/F (no final response) or H (no ACK).
    case timeout
    /// The transport could not deliver a message of this transaction.
    case transportError
    /// The transaction is over; the runtime forgets it.
    case terminated
}
