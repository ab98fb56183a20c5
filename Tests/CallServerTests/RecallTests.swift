// Recall as tables: a blind transfer's target, then its transferrer; a held call ringing its
// holder back. Events in, actions out, no sockets and no clocks.

import Testing
import Wire
@testable import CallServer

@Suite struct TransferRecallTests {
    typealias E = TransferRecall.Event
    typealias A = TransferRecall.Action

    func machine(recall: Double? = 30) -> TransferRecall {
        TransferRecall(transferrer: "2001", target: "2003", recallSeconds: recall, ringSeconds: 20)
    }

    static let mark = RecallMark(from: "2003", reason: .transfer)

    static let table: [(String, Double?, [E], [[A]], TransferRecall.Phase)] = [
        ("the target answers within the recall time: it takes the call",
         30, [.start, .targetAnswered], [[.ringTarget(seconds: 30)], [.connect(party: "2003", recall: nil)]], .connected("2003")),
        ("the target does not answer: the call rings the transferrer, marked, and it answers",
         30, [.start, .targetUnanswered(reason: "2003 did not answer (408)"), .transferrerAnswered],
         [[.ringTarget(seconds: 30)], [.reportUnanswered(reason: "2003 did not answer (408)", recalled: true), .ringTransferrer(mark, seconds: 20)],
          [.connect(party: "2001", recall: mark)]], .connected("2001")),
        ("neither answers: the waiting party is released",
         30, [.start, .targetUnanswered(reason: "busy"), .transferrerUnanswered(reason: "2001 has no registered device")],
         [[.ringTarget(seconds: 30)], [.reportUnanswered(reason: "busy", recalled: true), .ringTransferrer(mark, seconds: 20)],
          [.release(reason: "2003 did not answer the transfer, nor 2001 its recall (2001 has no registered device)")]], .released),
        ("recall off: the target rings for the ring timer and the call ends unanswered",
         nil, [.start, .targetUnanswered(reason: "no answer")],
         [[.ringTarget(seconds: 20)], [.reportUnanswered(reason: "no answer", recalled: false), .release(reason: "no answer")]], .released),
        ("the waiting party hangs up while the target rings: the ringing stops, a late answer changes nothing",
         30, [.start, .callEnded, .targetAnswered], [[.ringTarget(seconds: 30)], [.stopRinging], []], .released),
        ("the waiting party hangs up during the recall",
         30, [.start, .targetUnanswered(reason: "x"), .callEnded, .transferrerAnswered],
         [[.ringTarget(seconds: 30)], [.reportUnanswered(reason: "x", recalled: true), .ringTransferrer(mark, seconds: 20)], [.stopRinging], []], .released),
        ("an answer from the transferrer before any recall is not one",
         30, [.start, .transferrerAnswered], [[.ringTarget(seconds: 30)], []], .ringingTarget),
    ]

    @Test(arguments: table.indices)
    func row(_ index: Int) {
        let (what, recall, events, expected, phase) = Self.table[index]
        var machine = machine(recall: recall)
        for (event, actions) in zip(events, expected) {
            #expect(machine.handle(event) == actions, "\(what): \(event)")
        }
        #expect(machine.phase == phase, "\(what)")
    }

    @Test func theMarkSaysWhoDidNotAnswer() {
        let mark = machine().mark
        #expect(mark.headerValue == "from=2003;reason=transfer")
        #expect(RecallMark(header: mark.headerValue) == mark)
        #expect(mark.displayName(party: "Brook Taylor") == "Recall: 2003 did not answer — Brook Taylor")
    }

    @Test(arguments: ["", "from=2003", "reason=transfer", "from=2003;reason=lunch", "from=;reason=hold"])
    func aHeaderThatIsNotAMarkIsNone(_ value: String) {
        #expect(RecallMark(header: value) == nil)
    }
}

@Suite struct HoldRecallTests {
    typealias E = HoldRecall.Event
    typealias A = HoldRecall.Action

    static let table: [(String, [E], [[A]], HoldRecall.Phase)] = [
        ("held past the timer: the holder rings and takes the call back",
         [.held(by: .caller, recallAfter: 90), .timerFired, .recallAnswered],
         [[.startTimer(seconds: 90)], [.ringHolder(.caller)], [.takeBack(.caller)]], .idle),
        ("retrieved in time: the timer stops",
         [.held(by: .callee, recallAfter: 90), .retrieved(by: .callee), .timerFired],
         [[.startTimer(seconds: 90)], [.cancelTimer], []], .idle),
        ("the recall not answered: the call stays held and the timer starts again",
         [.held(by: .caller, recallAfter: 60), .timerFired, .recallUnanswered, .timerFired],
         [[.startTimer(seconds: 60)], [.ringHolder(.caller)], [.startTimer(seconds: 60)], [.ringHolder(.caller)]], .ringing(holder: .caller)),
        ("retrieved from the held call while the recall rings: the ringing stops",
         [.held(by: .caller, recallAfter: 60), .timerFired, .retrieved(by: .caller)],
         [[.startTimer(seconds: 60)], [.ringHolder(.caller)], [.stopRinging]], .idle),
        ("hold recall off for the holder: nothing runs",
         [.held(by: .caller, recallAfter: nil), .timerFired], [[], []], .idle),
        ("the other party's retrieve is not the holder's",
         [.held(by: .caller, recallAfter: 90), .retrieved(by: .callee)], [[.startTimer(seconds: 90)], []], .waiting(holder: .caller)),
        ("a second hold by the other party does not restart the first's timer",
         [.held(by: .caller, recallAfter: 90), .held(by: .callee, recallAfter: 90)], [[.startTimer(seconds: 90)], []], .waiting(holder: .caller)),
        ("the call ends while held, and while the recall rings",
         [.held(by: .caller, recallAfter: 90), .callEnded, .held(by: .caller, recallAfter: 90), .timerFired, .callEnded],
         [[.startTimer(seconds: 90)], [.cancelTimer], [.startTimer(seconds: 90)], [.ringHolder(.caller)], [.stopRinging]], .idle),
    ]

    @Test(arguments: table.indices)
    func row(_ index: Int) {
        let (what, events, expected, phase) = Self.table[index]
        var machine = HoldRecall()
        for (event, actions) in zip(events, expected) {
            #expect(machine.handle(event) == actions, "\(what): \(event)")
        }
        #expect(machine.phase == phase, "\(what)")
    }
}

@Suite struct RecallConfigurationTests {
    let base = """
    users:
      - { extension: "2001", name: A, password: a }
      - { extension: "2002", name: B, password: b, holdRecall: false }

    """

    @Test func timersDefaultToThirtyAndNinetySecondsAndHoldRecallIsOffPerUser() throws {
        let configuration = try PBXConfiguration.parse(base)
        #expect(configuration.transferRecallSeconds == 30)
        #expect(configuration.holdRecallSeconds("2001") == 90)
        #expect(configuration.holdRecallSeconds("2002") == nil)
    }

    @Test func zeroTurnsARecallOff() throws {
        let configuration = try PBXConfiguration.parse(base + "recall: { transferSeconds: 0, holdSeconds: 0 }\n")
        #expect(configuration.transferRecallSeconds == nil)
        #expect(configuration.holdRecallSeconds("2001") == nil)
    }

    @Test func aNegativeTimerIsRefusedNamingTheKey() {
        #expect { try PBXConfiguration.parse(base + "recall: { holdSeconds: -1 }\n", source: "pbx.yaml") } throws: {
            "\($0)".contains("recall.holdSeconds") && "\($0)".contains("pbx.yaml")
        }
    }

    @Test func aReferTargetIsItsUserAndAnAttendedTransferHasNone() {
        #expect(CallServer.referTarget("<sip:2003@127.0.0.1>") == "2003")
        #expect(CallServer.referTarget("sip:2003@127.0.0.1;transport=udp") == "2003")
        #expect(CallServer.referTarget("<sip:2003@127.0.0.1?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>") == nil)
        #expect(CallServer.referTarget("not a uri") == nil)
    }
}
