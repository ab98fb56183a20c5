// One leg of a call as the call server keeps it, as a plain value: whether its dialog is
// confirmed (a 2xx waits for its ACK, RFC 3261 §13.3.1.4), whether its ACK carries an answer on
// to the other leg (late offer §13.2.1, a re-INVITE without an offer §14.1), and the REFERs it
// sent that are not answered yet (RFC 3515: the NOTIFYs for them wait until the sender has seen
// the 202). Each event returns the actions the actor runs (CallServer.run(_:on:of:)); the
// continuations of requests held back and the timers are the actor's, named by the actions.

struct Leg: Sendable, Equatable {
    enum Phase: Sendable, Equatable {
        /// No 2xx waits for an ACK: requests for the leg go out at once.
        case confirmed
        /// We answered the leg's INVITE with a 2xx and wait for its ACK; a phone may not know the
        /// dialog before then (it would answer 481), so requests for it wait.
        case awaitingACK
        /// The device answered our INVITE with an offer; our ACK waits for the answer the other
        /// leg's ACK brings (late offer). Requests for it wait too.
        case owingACK
        case ended
    }

    enum Event: Sendable, Equatable {
        /// We sent a 2xx to the leg's INVITE (over a reliable transport or not).
        case answered(reliable: Bool)
        /// The device's 2xx made an offer; our ACK waits for the other leg's. `timer`: give up
        /// after 64·T1 on our own (when the other leg's 2xx is not retransmitted, which would).
        case answerAwaited(timer: Bool)
        /// The ACK for our 2xx came.
        case ackArrived
        /// We sent the ACK this leg was owed.
        case acknowledged
        /// 64·T1 went by without the ACK (§13.3.1.4: the UAS gives up then too).
        case ackTimedOut
        /// This leg's next ACK carries the answer to the other leg's 2xx (for its INVITE with
        /// that CSeq).
        case answerOwed(cseq: UInt32)
        /// A REFER from this leg was relayed; its answer has not come back.
        case referRelayed
        case referAnswered
        case ended
    }

    enum Action: Sendable, Equatable {
        /// Over UDP: our 2xx again at T1, 2·T1, … (at most T2 apart) until the ACK, for 64·T1.
        case retransmitAnswer
        /// Over a reliable transport: give up on the ACK after 64·T1.
        case startACKTimer
        case stopACKTimers
        /// Requests held back for the leg go now.
        case releaseRequests
        /// ACK the other leg's 2xx (the INVITE with this CSeq), carrying this ACK's body.
        case acknowledgeOther(cseq: UInt32)
        /// The other leg's ACK waited on this one, which will not come: it goes on without.
        case abandonOther
        /// NOTIFYs held back for the leg (until its REFER was answered) go now.
        case releaseNotifies
    }

    private(set) var phase = Phase.confirmed
    /// The CSeq of the other leg's 2xx that this leg's ACK answers.
    private(set) var answerFor: UInt32?
    private(set) var refersInFlight = 0

    /// A request for this leg waits until its ACK.
    var holdsRequests: Bool { phase == .awaitingACK || phase == .owingACK }
    /// A NOTIFY for this leg waits until its REFERs are answered.
    var holdsNotifies: Bool { refersInFlight > 0 }

    mutating func handle(_ event: Event) -> [Action] {
        switch (phase, event) {
        case (.ended, _):
            return []
        case (_, .answered(let reliable)):
            phase = .awaitingACK
            return [.stopACKTimers, reliable ? .startACKTimer : .retransmitAnswer]
        case (_, .answerAwaited(let timer)):
            phase = .owingACK
            return [.stopACKTimers] + (timer ? [.startACKTimer] : [])
        case (.awaitingACK, .ackArrived):
            phase = .confirmed
            return [.stopACKTimers, .releaseRequests] + takeAnswer().map { [.acknowledgeOther(cseq: $0)] }.orEmpty
        case (.confirmed, .ackArrived):
            // The ACK of a re-INVITE's 2xx: it may carry the answer the other leg waits for.
            return takeAnswer().map { [.acknowledgeOther(cseq: $0)] }.orEmpty
        case (.owingACK, .acknowledged):
            phase = .confirmed
            return [.stopACKTimers, .releaseRequests]
        case (.awaitingACK, .ackTimedOut):
            phase = .confirmed
            return [.stopACKTimers, .releaseRequests] + (takeAnswer() == nil ? [] : [.abandonOther])
        case (.owingACK, .ackTimedOut):
            phase = .confirmed
            return [.stopACKTimers, .releaseRequests]
        case (_, .answerOwed(let cseq)):
            answerFor = cseq
            return []
        case (_, .referRelayed):
            refersInFlight += 1
            return []
        case (_, .referAnswered):
            guard refersInFlight > 0 else { return [] }
            refersInFlight -= 1
            return refersInFlight == 0 ? [.releaseNotifies] : []
        case (_, .ended):
            phase = .ended
            answerFor = nil
            refersInFlight = 0
            return [.stopACKTimers, .releaseRequests, .releaseNotifies]
        default:
            return []
        }
    }

    private mutating func takeAnswer() -> UInt32? {
        defer { answerFor = nil }
        return answerFor
    }
}

private extension Optional where Wrapped == [Leg.Action] {
    var orEmpty: [Leg.Action] { self ?? [] }
}
