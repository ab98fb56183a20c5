// Suites that start real peers (call servers, collaboration servers, phones, baresip, linphone,
// SIPp, Kamailio, Chromium) take one of a few lanes while they run, so that a handful of them run
// at once instead of every one: Swift Testing starts all suites together (`.serialized` orders
// only the tests inside a suite), and twenty suites of processes on a 2-core machine starved each
// other's bounded waits. `@Suite(.serialized, .realPeers)`; HOLDFAST_TEST_LANES sets how many.

import Foundation
import Testing

public actor PeerLanes {
    public static let shared = PeerLanes(count: ProcessInfo.processInfo.environment["HOLDFAST_TEST_LANES"].flatMap { Int($0) } ?? 4)

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { free = max(1, count) }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}

/// Holds a lane for the whole suite (not recursive: once per suite, around all its tests).
public struct RealPeersTrait: SuiteTrait, TestScoping {
    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        await PeerLanes.shared.acquire()
        do {
            try await function()
        } catch {
            await PeerLanes.shared.release()
            throw error
        }
        await PeerLanes.shared.release()
    }
}

extension Trait where Self == RealPeersTrait {
    /// The suite starts real peers: it runs in one of the few lanes (PeerLanes).
    public static var realPeers: Self { RealPeersTrait() }
}
