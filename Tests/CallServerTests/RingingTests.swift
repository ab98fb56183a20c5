// The ringing engine as a table: inputs in, actions out, no sockets and no clocks.

import SIPMessage
import Testing
@testable import CallServer

@Suite struct RingingTests {
    enum Input {
        case start(Int, Double?)
        case provisional(Int, Int)
        case answered(Int)
        case failed(Int, Int)
        case timer
        case cancel
    }

    static func run(_ inputs: [Input]) -> (Ringing, [[Ringing.Action]]) {
        var ringing = Ringing()
        let actions = inputs.map { input -> [Ringing.Action] in
            switch input {
            case .start(let count, let seconds): ringing.start(forks: count, seconds: seconds)
            case .provisional(let fork, let status): ringing.provisional(fork, status: status)
            case .answered(let fork): ringing.answered(fork)
            case .failed(let fork, let status): ringing.failed(fork, status: status)
            case .timer: ringing.timerFired()
            case .cancel: ringing.cancel()
            }
        }
        return (ringing, actions)
    }

    static func busy(_ status: Int = 486, _ reason: String? = "Busy Here") -> Ringing.Failure {
        Ringing.Failure(status: status, reason: reason, busy: true)
    }

    static let table: [(String, [Input], [[Ringing.Action]], Ringing.State)] = [
        ("every device rings and the timer starts",
         [.start(2, 20)], [[.invite(0), .invite(1), .startTimer(seconds: 20)]], .ringing),
        ("no device: unavailable at once",
         [.start(0, 20)], [[.fail(.init(status: 480, reason: "Temporarily Unavailable (no device)", busy: false))]], .failed(.init(status: 480, reason: "Temporarily Unavailable (no device)", busy: false))),
        ("a 180 is relayed, a 100 is not",
         [.start(1, nil), .provisional(0, 100), .provisional(0, 180)], [[.invite(0)], [], [.relayProgress(status: 180, fork: 0)]], .ringing),
        ("the first answer wins; the others are cancelled",
         [.start(3, 20), .provisional(1, 180), .answered(1)],
         [[.invite(0), .invite(1), .invite(2), .startTimer(seconds: 20)], [.relayProgress(status: 180, fork: 1)], [.stopTimer, .connect(1), .cancel(0), .cancel(2)]],
         .answered(1)),
        ("a second answer (crossing our CANCEL) is released; the winner's again is acknowledged again",
         [.start(2, nil), .answered(0), .answered(1), .answered(0)],
         [[.invite(0), .invite(1)], [.stopTimer, .connect(0), .cancel(1)], [.release(1)], [.acknowledgeAgain(0)]], .answered(0)),
        ("the 487 of a cancelled device changes nothing",
         [.start(2, nil), .answered(0), .failed(1, 487)], [[.invite(0), .invite(1)], [.stopTimer, .connect(0), .cancel(1)], []], .answered(0)),
        ("one device busy, one rejecting: busy, so 'When I am on the phone' applies",
         [.start(2, nil), .failed(0, 404), .failed(1, 486)], [[.invite(0), .invite(1)], [], [.stopTimer, .fail(busy())]], .failed(busy())),
        ("a 6xx comes before 486 (§16.7)",
         [.start(2, nil), .failed(0, 486), .failed(1, 603)],
         [[.invite(0), .invite(1)], [], [.stopTimer, .fail(.init(status: 603, reason: nil, busy: true))]], .failed(.init(status: 603, reason: nil, busy: true))),
        ("the lowest 4xx before a 5xx",
         [.start(2, nil), .failed(0, 503), .failed(1, 480)],
         [[.invite(0), .invite(1)], [], [.stopTimer, .fail(.init(status: 480, reason: nil, busy: false))]], .failed(.init(status: 480, reason: nil, busy: false))),
        ("a device that gave up by itself (487) is unavailable to the caller",
         [.start(1, nil), .failed(0, 487)], [[.invite(0)], [.stopTimer, .fail(.init(status: 480, reason: nil, busy: false))]], .failed(.init(status: 480, reason: nil, busy: false))),
        ("the ring timer cancels everyone still ringing",
         [.start(2, 20), .failed(0, 480), .timer, .answered(1)],
         [[.invite(0), .invite(1), .startTimer(seconds: 20)], [], [.cancel(1), .noAnswer], [.release(1)]], .timedOut),
        ("the caller cancels: every device stops, a late answer is released",
         [.start(2, 20), .cancel, .answered(0), .timer],
         [[.invite(0), .invite(1), .startTimer(seconds: 20)], [.stopTimer, .cancel(0), .cancel(1)], [.release(0)], []], .cancelled),
        ("nothing after the end: no second failure, no timer",
         [.start(1, 20), .failed(0, 404), .failed(0, 404), .timer, .cancel],
         [[.invite(0), .startTimer(seconds: 20)], [.stopTimer, .fail(.init(status: 404, reason: nil, busy: false))], [], [], []],
         .failed(.init(status: 404, reason: nil, busy: false))),
    ]

    @Test(arguments: table.indices)
    func ringingFollowsTheTable(_ row: Int) {
        let (name, inputs, expected, finalState) = Self.table[row]
        let (ringing, actions) = Self.run(inputs)
        #expect(actions == expected, "\(name)")
        #expect(ringing.state == finalState, "\(name)")
    }

    @Test func aFailureKeepsItsReasonAndWarning() {
        var ringing = Ringing()
        _ = ringing.start(forks: 1, seconds: nil)
        let warning = RelayedHeader(name: .warning, value: "305 phone \"no common codec\"")
        let actions = ringing.failed(0, status: 488, reason: "Not Acceptable Here", headers: [warning])
        #expect(actions == [.stopTimer, .fail(.init(status: 488, reason: "Not Acceptable Here", headers: [warning], busy: false))])
    }
}
