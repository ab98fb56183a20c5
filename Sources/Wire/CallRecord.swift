// One call detail record: what the call server stores for every call and gives through CTI
// (`GET /cti/v1/cdr`), read by the collaboration server to fill call history.

import Foundation

public struct CallRecord: Codable, Sendable, Equatable {
    /// Monotonic sequence: a reader resumes with `after = last seen`.
    public var sequence: Int64?
    public var callID: String
    public var caller: String
    public var callerName: String?
    public var dialed: String
    /// Who finally rang or answered (after forwarding).
    public var callee: String?
    public var startedAt: Date
    public var answeredAt: Date?
    public var endedAt: Date
    /// A `CallOutcome`'s raw value (answered, busy, noAnswer, …); see `knownOutcome`.
    public var outcome: String
    /// Forwarding and transfer steps, in order (["2002", "forwardBusy", "2003"]).
    public var path: [String]

    public init(callID: String, caller: String, callerName: String?, dialed: String, callee: String?, startedAt: Date,
                answeredAt: Date?, endedAt: Date, outcome: String, path: [String]) {
        self.callID = callID
        self.caller = caller
        self.callerName = callerName
        self.dialed = dialed
        self.callee = callee
        self.startedAt = startedAt
        self.answeredAt = answeredAt
        self.endedAt = endedAt
        self.outcome = outcome
        self.path = path
    }

    /// The outcome as a value (nil for one this reader does not know).
    public var knownOutcome: CallOutcome? { CallOutcome(rawValue: outcome) }
}

/// How a call ended, as its record says it (`CallRecord.outcome` keeps the raw text so that a
/// reader older than a new outcome still reads the record).
public enum CallOutcome: String, Codable, Sendable, CaseIterable {
    /// Connected, then ended by a party.
    case answered
    /// Every device was busy, or Do Not Disturb.
    case busy
    /// Every device refused (a 4xx–6xx other than busy).
    case rejected
    /// Nobody answered before the ring timer.
    case noAnswer
    /// No device registered.
    case unavailable
    /// A forwarding target that does not exist.
    case notFound
    /// The caller gave up while it rang (CANCEL, or BYE on the early dialog).
    case cancelled
    /// Ended through CTI.
    case cleared
    /// A consultation call whose party was handed on (its leg moved into the held call).
    case transferred
    /// A blind transfer whose target could not be reached: the staying party was released.
    case transferFailed
    /// Placed through CTI: none of the originator's devices answered.
    case originatorNotReached
    /// Placed through CTI: the originator's device answered without a session to offer.
    case failed
}
