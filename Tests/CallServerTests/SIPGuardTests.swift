// The ban table as a value: failures within the window bring a ban, which expires; the tables
// stay bounded whatever the number of addresses.

import Testing
@testable import CallServer

@Suite struct SIPGuardTests {
    @Test func failuresWithinTheWindowBanTheAddressUntilTheBanExpires() {
        var table = SIPGuard(.init(authFailures: 3, windowSeconds: 10, banSeconds: 60))
        #expect(table.authFailed("10.0.0.1", now: 0) == .counted(1))
        #expect(table.authFailed("10.0.0.1", now: 1) == .counted(2))
        #expect(table.authFailed("10.0.0.2", now: 1) == .counted(1), "another address counts apart")
        #expect(table.authFailed("10.0.0.1", now: 2) == .banned(until: 62))
        #expect(table.isBanned("10.0.0.1", now: 30) && !table.isBanned("10.0.0.2", now: 30))
        #expect(!table.isBanned("10.0.0.1", now: 62), "the ban expires")
        // Failures further apart than the window never add up.
        #expect(table.authFailed("10.0.0.3", now: 0) == .counted(1))
        #expect(table.authFailed("10.0.0.3", now: 11) == .counted(1))
    }

    @Test func theTablesStayBounded() {
        var table = SIPGuard(.init(authFailures: 5, windowSeconds: 1000, banSeconds: 60))
        for n in 0..<(SIPGuard.capacity + 500) { _ = table.authFailed("addr\(n)", now: Double(n) / 1000) }
        #expect(table.failures.count <= SIPGuard.capacity)
        #expect(table.failures["addr0"] == nil, "the stalest address went first")
    }
}
