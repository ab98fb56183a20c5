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
    /// answered, busy, noAnswer, rejected, cancelled, notFound, unavailable, failed, cleared, transferred, …
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
}
