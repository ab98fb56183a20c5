// The call's life and its legs as tables: events in, actions out, no sockets and no clocks.

import Testing
import Wire
@testable import CallServer

@Suite struct CallLifeTests {
    typealias E = CallLife.Event
    typealias A = CallLife.Action

    /// (what happens, inbound or placed through CTI, events, actions each returns, the phase after).
    static let table: [(String, Bool, [E], [[A]], CallLife.Phase)] = [
        ("a call in rings, is answered and the caller hangs up: the callee gets the BYE after the record is durable",
         true, [.ringing, .answered, .hungUp(by: .caller)],
         [[], [], [.closeLegs, .stopMusic, .record(.answered), .forget, .durable, .answerBye, .bye(.callee)]], .ended),
        ("the callee hangs up: the caller gets the BYE",
         true, [.ringing, .answered, .hungUp(by: .callee)],
         [[], [], [.closeLegs, .stopMusic, .record(.answered), .forget, .durable, .answerBye, .bye(.caller)]], .ended),
        ("every device busy: the record is durable before the caller's 486",
         true, [.ringing, .unanswered(status: 486, reason: "Busy Here", outcome: .busy)],
         [[], [.record(.busy), .durable, .answerCaller(status: 486, reason: "Busy Here", headers: []), .forget]], .ended),
        ("a relayed failure keeps its headers",
         true, [.ringing, .unanswered(status: 488, reason: nil, outcome: .rejected, headers: [RelayedHeader(name: .warning, value: "304 x \"no codec\"")])],
         [[], [.record(.rejected), .durable, .answerCaller(status: 488, reason: nil, headers: [RelayedHeader(name: .warning, value: "304 x \"no codec\"")]), .forget]], .ended),
        ("the caller cancels: what rings stops (the stack already answered 487)",
         true, [.ringing, .callerCancelled], [[], [.stopRinging, .record(.cancelled), .forget]], .ended),
        ("the caller's BYE on the early dialog: 200 to it, then 487 to the INVITE",
         true, [.ringing, .callerHungUpEarly],
         [[], [.stopRinging, .record(.cancelled), .forget, .durable, .answerBye, .answerCaller(status: 487, reason: "Request Terminated (BYE)", headers: [])]], .ended),
        ("forwarded while ringing: the ringing stops, the call routes again and rings the next target",
         true, [.ringing, .rerouted, .ringing], [[], [.stopRinging], []], .ringing),
        ("forwarded before ringing (Always): nothing rings yet, nothing to stop",
         true, [.rerouted], [[]], .routing),
        ("CTI clears a ringing call: the caller gets 480",
         true, [.ringing, .cleared],
         [[], [.stopRinging, .record(.cleared), .durable, .answerCaller(status: 480, reason: "Temporarily Unavailable (call cleared)", headers: []), .forget]], .ended),
        ("CTI clears a connected call: BYE to both",
         true, [.ringing, .answered, .cleared],
         [[], [], [.bye(.caller), .bye(.callee), .closeLegs, .stopMusic, .record(.cleared), .forget]], .ended),
        ("a blind transfer whose target does not answer releases the party who stayed",
         true, [.ringing, .answered, .transferFailed(staying: .caller)],
         [[], [], [.bye(.caller), .closeLegs, .stopMusic, .record(.transferFailed), .forget]], .ended),
        ("a consultation whose legs moved into the held call ends as transferred",
         false, [.originatorAnswered, .ringing, .answered, .legsMoved],
         [[], [], [], [.closeLegs, .stopMusic, .record(.transferred), .forget]], .ended),
        ("placed through CTI: the originator answers, the target is busy: the originator is released",
         false, [.originatorAnswered, .ringing, .unanswered(status: 486, reason: "Busy Here", outcome: .busy)],
         [[], [], [.record(.busy), .durable, .releaseOriginator(reason: "486 Busy Here"), .forget]], .ended),
        ("placed through CTI: no device of the originator answers",
         false, [.originatorNotReached], [[.record(.originatorNotReached), .forget]], .ended),
        ("placed through CTI: cleared while the originator's devices ring",
         false, [.cleared], [[.stopOriginating, .record(.cleared), .forget]], .ended),
        ("placed through CTI: cleared while the target rings: both ringings stop, the originator is released",
         false, [.originatorAnswered, .ringing, .cleared],
         [[], [], [.stopRinging, .stopOriginating, .record(.cleared), .durable, .releaseOriginator(reason: "480 Temporarily Unavailable (call cleared)"), .forget]], .ended),
        ("placed through CTI: the originator hangs up while the target rings",
         false, [.originatorAnswered, .ringing, .hungUp(by: .caller)],
         [[], [], [.stopRinging, .refuseOriginatorOffer, .closeLegs, .record(.cancelled), .forget, .durable, .answerBye]], .ended),
        ("an ended call ignores everything after: one record, one BYE",
         true, [.ringing, .answered, .hungUp(by: .caller), .hungUp(by: .callee), .cleared, .callerCancelled],
         [[], [], [.closeLegs, .stopMusic, .record(.answered), .forget, .durable, .answerBye, .bye(.callee)], [], [], []], .ended),
        ("an event that does not fit the phase changes nothing: a CANCEL after the answer, a BYE before it",
         true, [.ringing, .answered, .callerCancelled, .callerHungUpEarly], [[], [], [], []], .answered),
        ("an unanswered call's 'hang up' from the callee (no dialog yet) changes nothing",
         true, [.ringing, .hungUp(by: .callee)], [[], []], .ringing),
    ]

    @Test(arguments: table.indices)
    func callLife(_ row: Int) {
        let (name, inbound, events, expected, phase) = Self.table[row]
        var life = CallLife(inbound: inbound)
        let actions = events.map { life.handle($0) }
        #expect(actions == expected, "\(name)")
        #expect(life.phase == phase, "\(name)")
    }

    @Test func theOutcomeIsKeptAndRecordedOnce() {
        var life = CallLife(inbound: true)
        _ = life.handle(.ringing)
        _ = life.handle(.unanswered(status: 480, reason: nil, outcome: .noAnswer))
        #expect(life.outcome == .noAnswer)
        #expect(life.handle(.cleared).isEmpty)
        #expect(life.outcome == .noAnswer)
    }

    @Test func aCallInStartsRoutingOnePlacedThroughCTIOriginating() {
        #expect(CallLife(inbound: true).phase == .routing)
        #expect(CallLife(inbound: false).phase == .originating)
    }
}

@Suite struct LegTests {
    typealias E = Leg.Event
    typealias A = Leg.Action

    /// (what happens, events, actions each returns, the phase after, whether requests wait).
    static let table: [(String, [E], [[A]], Leg.Phase, Bool)] = [
        ("a 2xx over UDP is retransmitted until its ACK; requests wait meanwhile, then go",
         [.answered(reliable: false), .ackArrived],
         [[.stopACKTimers, .retransmitAnswer], [.stopACKTimers, .releaseRequests]], .confirmed, false),
        ("over TCP a timer of its own limits the wait",
         [.answered(reliable: true)], [[.stopACKTimers, .startACKTimer]], .awaitingACK, true),
        ("no ACK in 64·T1: the leg gives up and lets requests go",
         [.answered(reliable: true), .ackTimedOut], [[.stopACKTimers, .startACKTimer], [.stopACKTimers, .releaseRequests]], .confirmed, false),
        ("late offer, caller's side: its ACK carries the answer on to the callee",
         [.answered(reliable: false), .answerOwed(cseq: 1), .ackArrived],
         [[.stopACKTimers, .retransmitAnswer], [], [.stopACKTimers, .releaseRequests, .acknowledgeOther(cseq: 1)]], .confirmed, false),
        ("late offer, caller's side: no ACK comes, the callee's ACK is abandoned too",
         [.answered(reliable: false), .answerOwed(cseq: 1), .ackTimedOut],
         [[.stopACKTimers, .retransmitAnswer], [], [.stopACKTimers, .releaseRequests, .abandonOther]], .confirmed, false),
        ("late offer, callee's side: its requests wait for the ACK we owe it",
         [.answerAwaited(timer: false), .acknowledged], [[.stopACKTimers], [.stopACKTimers, .releaseRequests]], .confirmed, false),
        ("late offer, callee's side over TCP: given up after 64·T1",
         [.answerAwaited(timer: true), .ackTimedOut], [[.stopACKTimers, .startACKTimer], [.stopACKTimers, .releaseRequests]], .confirmed, false),
        ("a re-INVITE without an offer on a confirmed leg: its ACK brings the answer",
         [.answerOwed(cseq: 7), .ackArrived, .ackArrived], [[], [.acknowledgeOther(cseq: 7)], []], .confirmed, false),
        ("an ACK nobody waits for (a retransmission) does nothing",
         [.ackArrived], [[]], .confirmed, false),
        ("a stray ACK timer after the ACK does nothing",
         [.answered(reliable: true), .ackArrived, .ackTimedOut],
         [[.stopACKTimers, .startACKTimer], [.stopACKTimers, .releaseRequests], []], .confirmed, false),
        ("NOTIFYs wait until every REFER the leg sent is answered",
         [.referRelayed, .referRelayed, .referAnswered, .referAnswered, .referAnswered], [[], [], [], [.releaseNotifies], []], .confirmed, false),
        ("an ended leg lets everything that waits on it go, and ignores the rest",
         [.answered(reliable: false), .referRelayed, .ended, .ackArrived, .answered(reliable: false)],
         [[.stopACKTimers, .retransmitAnswer], [], [.stopACKTimers, .releaseRequests, .releaseNotifies], [], []], .ended, false),
    ]

    @Test(arguments: table.indices)
    func leg(_ row: Int) {
        let (name, events, expected, phase, holds) = Self.table[row]
        var leg = Leg()
        let actions = events.map { leg.handle($0) }
        #expect(actions == expected, "\(name)")
        #expect(leg.phase == phase, "\(name)")
        #expect(leg.holdsRequests == holds, "\(name)")
    }

    @Test func notifiesAreHeldOnlyWhileAReferIsOut() {
        var leg = Leg()
        #expect(!leg.holdsNotifies)
        _ = leg.handle(.referRelayed)
        #expect(leg.holdsNotifies)
        _ = leg.handle(.referAnswered)
        #expect(!leg.holdsNotifies)
    }
}
