// Digest failures per source address and the bans they bring, as Kamailio's pike and htable ban
// do in process rather than by scraping logs: a source that fails `authFailures` digests within
// `authWindowSeconds` is dropped unanswered for `banSeconds`. A plain value (time passed in) in
// bounded tables; `SourceGuard` shares it with the SIP stack, which asks before any transaction.

import Foundation
import NIOCore
import SIP
import Synchronization
import Throttle

struct SIPGuard: Sendable, Equatable {
    struct Settings: Sendable, Equatable {
        var authFailures: Int
        var windowSeconds: Double
        var banSeconds: Double
    }

    enum Outcome: Sendable, Equatable {
        /// Failures from the address within the window, this one included.
        case counted(Int)
        /// This failure brought the ban on.
        case banned(until: Double)
    }

    /// Addresses tracked at most, in each table (the oldest go first).
    static let capacity = FailureTable.capacity
    let settings: Settings
    private(set) var failures = FailureTable()
    private(set) var bans: [String: Double] = [:]

    init(_ settings: Settings) { self.settings = settings }

    func isBanned(_ address: String, now: Double) -> Bool { (bans[address] ?? -.infinity) > now }

    /// A digest from `address` failed (wrong password, unknown user, replayed nonce).
    mutating func authFailed(_ address: String, now: Double) -> Outcome {
        bans = bans.filter { $0.value > now }
        let count = failures.recent(address, now: now, window: settings.windowSeconds).count + 1
        if count >= settings.authFailures {
            failures.remove(address)
            if bans[address] == nil, bans.count >= Self.capacity, let soonest = bans.min(by: { $0.value < $1.value })?.key { bans[soonest] = nil }
            let until = now + settings.banSeconds
            bans[address] = until
            return .banned(until: until)
        }
        failures.add(address, now: now)
        return .counted(count)
    }
}

/// The guard shared between the call server (which counts failures) and its SIP stack (which
/// drops a banned source's requests before they cost a transaction).
final class SourceGuard: Sendable {
    private let state: Mutex<SIPGuard>
    private let now: @Sendable () -> Double

    init(_ settings: SIPGuard.Settings, now: @escaping @Sendable () -> Double) {
        state = Mutex(SIPGuard(settings))
        self.now = now
    }

    func admission(_ source: SocketAddress) -> SIPStack.Admission {
        let address = source.ipAddress ?? ""
        return state.withLock { $0.isBanned(address, now: now()) } ? .drop : .admit
    }

    func authFailed(_ address: String) -> SIPGuard.Outcome { state.withLock { $0.authFailed(address, now: now()) } }

    var banned: Int { state.withLock { guardState in guardState.bans.values.filter { $0 > now() }.count } }
}
