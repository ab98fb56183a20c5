// The life of one call, as a plain value: each event (the callee answered, the caller cancelled,
// a party hung up, CTI cleared it, …) moves it to its next phase and returns what the call server
// must do, in order. Nothing here touches a socket, a clock or the call table; the actor runs the
// actions (CallServer.run(_:for:)). An event that does not apply to the phase changes nothing.

import Wire

struct CallLife: Sendable, Equatable {
    enum Phase: Sendable, Equatable {
        /// Placed through CTI: the originator's devices ring.
        case originating
        /// Its target's features are applied, or it goes elsewhere (forwarded, deflected).
        case routing
        /// Devices (or a media service) ring.
        case ringing
        /// Connected: two legs joined by the server.
        case answered
        case ended
    }

    enum Event: Sendable, Equatable {
        /// The originator of a call placed through CTI answered: its target is routed now.
        case originatorAnswered
        case ringing
        /// The call goes to another target (forwarding, deflection): what still rings stops.
        case rerouted
        case answered
        /// It will not connect: the caller gets `status` (or the originator is released).
        case unanswered(status: Int, reason: String?, outcome: CallOutcome, headers: [RelayedHeader] = [])
        /// The caller's CANCEL (the stack answered it, and the INVITE with 487).
        case callerCancelled
        /// The caller's BYE on the early dialog (RFC 3261 §15): answered like a CANCEL.
        case callerHungUpEarly
        /// A party's BYE.
        case hungUp(by: Call.Side)
        /// CTI cleared the call.
        case cleared
        /// A blind transfer did not reach its target: the party who stayed is released.
        case transferFailed(staying: Call.Side)
        /// The legs went to another call (a consultation completed into the held call).
        case legsMoved
        /// None of the CTI originator's devices answered.
        case originatorNotReached
        /// The originator's device answered without an offer to carry on.
        case originatorGaveNoOffer
    }

    enum Action: Sendable, Equatable {
        /// CANCEL whatever still rings.
        case stopRinging
        /// Stop ringing the originator's devices (a call placed through CTI).
        case stopOriginating
        /// The final response to the caller's INVITE.
        case answerCaller(status: Int, reason: String?, headers: [RelayedHeader])
        /// Release the originator's device of a call placed through CTI (ACK refusing, then BYE).
        case releaseOriginator(reason: String)
        /// ACK the originator's 2xx with a session refusing every stream: the answer it waited
        /// for will not come (it hung up itself).
        case refuseOriginatorOffer
        /// 200 to the BYE that ended the call.
        case answerBye
        /// BYE on that leg.
        case bye(Call.Side)
        /// Forget both dialogs, stop every retransmission and timer, let whatever waits on a leg go.
        case closeLegs
        case stopMusic
        /// Write the call's record.
        case record(CallOutcome)
        /// Wait until what was written is on disk (before the caller learns the outcome).
        case durable
        /// Remove the call from the call table.
        case forget
    }

    private(set) var phase: Phase
    private(set) var outcome: CallOutcome?
    /// The caller called in (there is an INVITE to answer); false for a call placed through CTI.
    let inbound: Bool

    init(inbound: Bool) {
        self.inbound = inbound
        phase = inbound ? .routing : .originating
    }

    var isEnded: Bool { phase == .ended }
    /// Ringing or about to: a caller can still cancel, CTI can deflect.
    var isUnanswered: Bool { phase == .routing || phase == .ringing }

    mutating func handle(_ event: Event) -> [Action] {
        switch (phase, event) {
        case (.originating, .originatorAnswered):
            phase = .routing
            return []
        case (.routing, .ringing), (.ringing, .ringing):
            phase = .ringing
            return []
        case (.routing, .rerouted):
            return []
        case (.ringing, .rerouted):
            phase = .routing
            return [.stopRinging]
        case (.ringing, .answered):
            phase = .answered
            return []
        case (.originating, .unanswered(let status, let reason, let outcome, let headers)),
             (.routing, .unanswered(let status, let reason, let outcome, let headers)),
             (.ringing, .unanswered(let status, let reason, let outcome, let headers)):
            // The record is durable before the caller learns the outcome: a crash right after the
            // reply loses nothing.
            return end(outcome, [.record(outcome), .durable, release(status, reason, headers), .forget])
        case (.routing, .callerCancelled), (.ringing, .callerCancelled):
            return end(.cancelled, [.stopRinging, .record(.cancelled), .forget])
        case (.routing, .callerHungUpEarly), (.ringing, .callerHungUpEarly):
            return end(.cancelled, [.stopRinging, .record(.cancelled), .forget, .durable, .answerBye,
                                    .answerCaller(status: 487, reason: "Request Terminated (BYE)", headers: [])])
        case (.routing, .hungUp(.caller)), (.ringing, .hungUp(.caller)):
            // The originator of a call placed through CTI hung up while its target rang.
            return end(.cancelled, [.stopRinging, .refuseOriginatorOffer, .closeLegs, .record(.cancelled), .forget, .durable, .answerBye])
        case (.answered, .hungUp(let side)):
            // The BYE ends the call whatever the other side answers.
            return end(.answered, [.closeLegs, .stopMusic, .record(.answered), .forget, .durable, .answerBye, .bye(side.other)])
        case (.originating, .cleared):
            return end(.cleared, [.stopOriginating, .record(.cleared), .forget])
        case (.routing, .cleared), (.ringing, .cleared):
            let reason = "Temporarily Unavailable (call cleared)"
            return end(.cleared, [.stopRinging] + (inbound ? [] : [.stopOriginating])
                       + [.record(.cleared), .durable, release(480, reason, []), .forget])
        case (.answered, .cleared):
            return end(.cleared, [.bye(.caller), .bye(.callee), .closeLegs, .stopMusic, .record(.cleared), .forget])
        case (.answered, .transferFailed(let staying)):
            return end(.transferFailed, [.bye(staying), .closeLegs, .stopMusic, .record(.transferFailed), .forget])
        case (.answered, .legsMoved):
            return end(.transferred, [.closeLegs, .stopMusic, .record(.transferred), .forget])
        case (.originating, .originatorNotReached):
            return end(.originatorNotReached, [.record(.originatorNotReached), .forget])
        case (.originating, .originatorGaveNoOffer):
            return end(.failed, [.record(.failed), .forget])
        default:
            return []
        }
    }

    private mutating func end(_ outcome: CallOutcome, _ actions: [Action]) -> [Action] {
        phase = .ended
        self.outcome = outcome
        return actions
    }

    private func release(_ status: Int, _ reason: String?, _ headers: [RelayedHeader]) -> Action {
        inbound ? .answerCaller(status: status, reason: reason, headers: headers)
            : .releaseOriginator(reason: "\(status) \(reason ?? "")".trimmingCharacters(in: .whitespaces))
    }
}
