// Recall, as plain values: a call the user let go comes back to them. A blind transfer whose
// target does not answer within the recall timer rings the transferrer again (`TransferRecall`);
// a call held longer than the hold recall timer rings its holder (`HoldRecall`). Each event returns
// what the call server must do; the actor runs it (RecallDriver.swift). No sockets, no clocks.

import Wire

/// One blind transfer: its target rings for the recall timer; unanswered, busy or unreachable,
/// the call rings the transferrer's devices, marked as a recall; unanswered there too, the party
/// who waited is released.
struct TransferRecall: Sendable, Equatable {
    enum Phase: Sendable, Equatable {
        case idle
        case ringingTarget
        case recalling
        case connected(String)
        case released
    }

    enum Event: Sendable, Equatable {
        case start
        case targetAnswered
        /// Not answered in time, busy, rejected or not registered: why, for the event and the log.
        case targetUnanswered(reason: String)
        case transferrerAnswered
        case transferrerUnanswered(reason: String)
        /// The party waiting hung up, or the call was cleared: whatever rings stops.
        case callEnded
    }

    enum Action: Sendable, Equatable {
        /// Ring the transfer's target with the waiting party's session.
        case ringTarget(seconds: Double)
        /// Ring the transferrer's devices again, the INVITE marked with `mark`.
        case ringTransferrer(RecallMark, seconds: Double)
        /// `party` answered: it takes the leg the transferrer left, the waiting party is re-bridged.
        case connect(party: String, recall: RecallMark?)
        /// Tell CTI the target did not take the call (`recalled`: it comes back to the transferrer).
        case reportUnanswered(reason: String, recalled: Bool)
        /// Nobody took it: the waiting party is released.
        case release(reason: String)
        case stopRinging
    }

    let transferrer: String
    let target: String
    /// The recall timer; nil when recall is off (the target rings for `ringSeconds`, as any call).
    let recallSeconds: Double?
    let ringSeconds: Double
    private(set) var phase: Phase = .idle

    init(transferrer: String, target: String, recallSeconds: Double?, ringSeconds: Double) {
        self.transferrer = transferrer
        self.target = target
        self.recallSeconds = recallSeconds
        self.ringSeconds = ringSeconds
    }

    var mark: RecallMark { RecallMark(from: target, reason: .transfer) }

    mutating func handle(_ event: Event) -> [Action] {
        switch (phase, event) {
        case (.idle, .start):
            phase = .ringingTarget
            return [.ringTarget(seconds: recallSeconds ?? ringSeconds)]
        case (.ringingTarget, .targetAnswered):
            phase = .connected(target)
            return [.connect(party: target, recall: nil)]
        case (.ringingTarget, .targetUnanswered(let reason)):
            guard recallSeconds != nil else {
                phase = .released
                return [.reportUnanswered(reason: reason, recalled: false), .release(reason: reason)]
            }
            phase = .recalling
            return [.reportUnanswered(reason: reason, recalled: true), .ringTransferrer(mark, seconds: ringSeconds)]
        case (.recalling, .transferrerAnswered):
            phase = .connected(transferrer)
            return [.connect(party: transferrer, recall: mark)]
        case (.recalling, .transferrerUnanswered(let reason)):
            phase = .released
            return [.release(reason: "\(target) did not answer the transfer, nor \(transferrer) its recall (\(reason))")]
        case (.ringingTarget, .callEnded), (.recalling, .callEnded):
            phase = .released
            return [.stopRinging]
        default:
            return []
        }
    }
}

/// Hold recall on one call: the first party to hold starts the timer; when it fires, the holder's
/// devices ring with the held party; answering takes the held party back on the new dialog.
/// Unanswered, the timer starts again (the call stays held). Retrieving stops it all.
struct HoldRecall: Sendable, Equatable {
    enum Phase: Sendable, Equatable {
        case idle
        /// `holder` holds; the timer runs.
        case waiting(holder: Call.Side)
        /// The holder's devices ring with the held party.
        case ringing(holder: Call.Side)
    }

    enum Event: Sendable, Equatable {
        /// `side` put the call on hold; `recallAfter` is its hold recall timer (nil: off for it).
        case held(by: Call.Side, recallAfter: Double?)
        case retrieved(by: Call.Side)
        case timerFired
        case recallAnswered
        case recallUnanswered
        case callEnded
    }

    enum Action: Sendable, Equatable {
        case startTimer(seconds: Double)
        case cancelTimer
        case ringHolder(Call.Side)
        case stopRinging
        /// The holder answered the recall: its new dialog replaces the held one, the held party is
        /// re-bridged to it (and its music stops).
        case takeBack(Call.Side)
    }

    private(set) var phase: Phase = .idle
    /// The holder's timer, kept to start it again after an unanswered recall.
    private var seconds: Double?

    mutating func handle(_ event: Event) -> [Action] {
        switch (phase, event) {
        case (.idle, .held(let side, let after)):
            guard let after, after > 0 else { return [] }
            phase = .waiting(holder: side)
            seconds = after
            return [.startTimer(seconds: after)]
        case (.waiting(let holder), .retrieved(let side)) where side == holder:
            phase = .idle
            return [.cancelTimer]
        case (.ringing(let holder), .retrieved(let side)) where side == holder:
            phase = .idle
            return [.stopRinging]
        case (.waiting(let holder), .timerFired):
            phase = .ringing(holder: holder)
            return [.ringHolder(holder)]
        case (.ringing(let holder), .recallAnswered):
            phase = .idle
            return [.takeBack(holder)]
        case (.ringing(let holder), .recallUnanswered):
            phase = .waiting(holder: holder)
            return [.startTimer(seconds: seconds ?? 0)]
        case (.waiting, .callEnded):
            phase = .idle
            return [.cancelTimer]
        case (.ringing, .callEnded):
            phase = .idle
            return [.stopRinging]
        default:
            return []
        }
    }
}
