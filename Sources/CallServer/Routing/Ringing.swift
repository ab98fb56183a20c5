// The one ringing engine: several devices rung at once for one call, as a plain value. Each input
// (a device's response, the ring timer, the caller giving up) returns the actions the call server
// must take; nothing here touches a socket or a clock. Every path that rings devices uses it:
// calls in, click-to-dial, transfers, callbacks.

import SIPMessage

/// A header of a device's failure that is relayed to the caller (Warning, Retry-After, Unsupported).
public struct RelayedHeader: Sendable, Equatable {
    public var name: HeaderName
    public var value: String
}

struct Ringing: Sendable, Equatable {
    enum ForkState: Sendable, Equatable {
        case trying
        /// A 18x came: the device is alerting.
        case alerting
        case answered
        case failed(Int)
        /// We sent CANCEL (or never need its answer): whatever it says now changes nothing.
        case abandoned
    }

    /// The failure the caller gets when every device failed (RFC 3261 §16.7 step 6, as a B2BUA
    /// applies it): a 6xx first, then 486, then the lowest 4xx, then the rest.
    struct Failure: Sendable, Equatable {
        var status: Int
        var reason: String?
        var headers: [RelayedHeader] = []
        /// Some device was busy (486 or 600): "When I am on the phone" applies.
        var busy: Bool
    }

    enum State: Sendable, Equatable {
        case idle
        case ringing
        case answered(Int)
        case failed(Failure)
        case timedOut
        case cancelled
    }

    enum Action: Sendable, Equatable {
        /// Send the INVITE of fork N.
        case invite(Int)
        case startTimer(seconds: Double)
        case stopTimer
        /// Tell the caller the call is progressing (a 18x from fork N).
        case relayProgress(status: Int, fork: Int)
        /// Fork N answered first: ACK it and join it to the call.
        case connect(Int)
        /// CANCEL fork N, still ringing.
        case cancel(Int)
        /// Fork N answered when nobody wants it any more: ACK it and end it with BYE (§15, and a
        /// 200 may cross a CANCEL, §9.1).
        case release(Int)
        /// The winner's 2xx again (our ACK was late or lost): ACK it again (§13.2.2.4).
        case acknowledgeAgain(Int)
        /// Every device failed: this is what the caller gets.
        case fail(Failure)
        /// Nobody answered before the ring timer.
        case noAnswer
    }

    private(set) var state = State.idle
    private(set) var forks: [ForkState] = []

    /// Rings `count` devices for at most `seconds` (nil: no timer of its own).
    mutating func start(forks count: Int, seconds: Double?) -> [Action] {
        guard state == .idle else { return [] }
        guard count > 0 else {
            let failure = Failure(status: 480, reason: "Temporarily Unavailable (no device)", busy: false)
            state = .failed(failure)
            return [.fail(failure)]
        }
        state = .ringing
        forks = Array(repeating: .trying, count: count)
        return (0..<count).map(Action.invite) + (seconds.map { [.startTimer(seconds: $0)] } ?? [])
    }

    mutating func provisional(_ fork: Int, status: Int) -> [Action] {
        guard state == .ringing, forks.indices.contains(fork), forks[fork] == .trying || forks[fork] == .alerting, status > 100 else { return [] }
        forks[fork] = .alerting
        return [.relayProgress(status: status, fork: fork)]
    }

    mutating func answered(_ fork: Int) -> [Action] {
        guard forks.indices.contains(fork) else { return [] }
        switch state {
        case .ringing where forks[fork] == .trying || forks[fork] == .alerting:
            state = .answered(fork)
            forks[fork] = .answered
            return [.stopTimer, .connect(fork)] + abandonOthers(except: fork)
        case .answered(let winner) where winner == fork:
            return [.acknowledgeAgain(fork)]
        default:
            forks[fork] = .abandoned
            return [.release(fork)]
        }
    }

    mutating func failed(_ fork: Int, status: Int, reason: String? = nil, headers: [RelayedHeader] = []) -> [Action] {
        guard state == .ringing, forks.indices.contains(fork), forks[fork] == .trying || forks[fork] == .alerting else { return [] }
        forks[fork] = .failed(status)
        failures[fork] = Failure(status: status, reason: reason, headers: headers, busy: false)
        guard forks.allSatisfy({ if case .failed = $0 { true } else { false } }) else { return [] }
        let failure = best()
        state = .failed(failure)
        return [.stopTimer, .fail(failure)]
    }

    mutating func timerFired() -> [Action] {
        guard state == .ringing else { return [] }
        state = .timedOut
        return abandonOthers(except: nil) + [.noAnswer]
    }

    /// The caller gave up, or the call goes elsewhere (forwarded, deflected, cleared).
    mutating func cancel() -> [Action] {
        guard state == .ringing else { return [] }
        state = .cancelled
        return [.stopTimer] + abandonOthers(except: nil)
    }

    // MARK: - Helpers

    private var failures: [Int: Failure] = [:]

    private mutating func abandonOthers(except winner: Int?) -> [Action] {
        var actions: [Action] = []
        for index in forks.indices where index != winner && (forks[index] == .trying || forks[index] == .alerting) {
            forks[index] = .abandoned
            actions.append(.cancel(index))
        }
        return actions
    }

    private func best() -> Failure {
        let all = forks.indices.compactMap { failures[$0] }
        let busy = all.contains { $0.status == 486 || $0.status == 600 }
        guard var chosen = all.min(by: { Self.rank($0.status) < Self.rank($1.status) }) else {
            return Failure(status: 480, reason: nil, busy: false)
        }
        if busy && chosen.status != 600 && !(600..<700).contains(chosen.status) {
            chosen = Failure(status: 486, reason: "Busy Here", busy: true)
        }
        chosen.busy = busy
        // A 487 means a device gave up by itself, not that the caller cancelled: unavailable.
        if chosen.status == 487 { chosen = Failure(status: 480, reason: nil, busy: busy) }
        return chosen
    }

    static func rank(_ status: Int) -> Int {
        switch status {
        case 600..<700: return 0
        case 486: return 1
        case 400..<500: return 2 + status
        default: return 1000 + status
        }
    }
}
