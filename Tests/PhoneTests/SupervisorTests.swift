// The session supervisor as a plain value: detection on close and on silence, backoff with full
// jitter, Try Now, and recovery, driven with made-up times.

import Phone
import Testing

@Suite struct SupervisorTests {
    @Test func connectsGoesOnlineAndHeartbeats() {
        var s = ServerSessionSupervisor(now: 0)
        #expect(s.start() == [.connect])
        #expect(s.mode == .offline)
        #expect(s.connected(now: 0.2) == [.modeChanged(.online, since: 0.2), .scheduleHeartbeat(at: 2.2)])
        #expect(s.heartbeatDue(now: 2.2, random: 0.5) == [.sendHeartbeat(id: 1), .scheduleHeartbeat(at: 4.2)])
        s.heartbeatAnswered(id: 1)
        #expect(s.heartbeatDue(now: 4.2, random: 0.5) == [.sendHeartbeat(id: 2), .scheduleHeartbeat(at: 6.2)])
        s.heartbeatAnswered(id: 2)
        #expect(s.heartbeatDue(now: 6.2, random: 0.5) == [.sendHeartbeat(id: 3), .scheduleHeartbeat(at: 8.2)])
        #expect(s.mode == .online)
    }

    @Test func aClosedConnectionIsOfflineAtOnceAndRetriedWithJitter() {
        var s = ServerSessionSupervisor(now: 0)
        _ = s.start()
        _ = s.connected(now: 0)
        #expect(s.connectionLost(now: 10, random: 0.5) == [.modeChanged(.offline, since: 10), .scheduleRetry(at: 10.25)])
        #expect(s.retryDue(now: 10.25) == [.connect])
        // Each failure doubles the bound, up to 15 s; the pause is uniform below it.
        #expect(s.connectFailed(now: 11, random: 1) == [.scheduleRetry(at: 12)])
        #expect(s.backoff(attempt: 2, random: 1) == 2)
        #expect(s.backoff(attempt: 10, random: 1) == 15)
        #expect(s.backoff(attempt: 10, random: 0) == 0)
        #expect(s.retryDue(now: 12) == [.connect])
        #expect(s.connected(now: 12.1) == [.modeChanged(.online, since: 12.1), .scheduleHeartbeat(at: 14.1)])
    }

    @Test func twoUnansweredHeartbeatsMeanASilentServerWithinSixSeconds() {
        var s = ServerSessionSupervisor(now: 0)
        _ = s.start()
        _ = s.connected(now: 0)
        _ = s.heartbeatDue(now: 2, random: 0)
        s.heartbeatAnswered(id: 1)
        // The server freezes just after answering at 2 s.
        #expect(s.heartbeatDue(now: 4, random: 0) == [.sendHeartbeat(id: 2), .scheduleHeartbeat(at: 6)])
        #expect(s.heartbeatDue(now: 6, random: 0) == [.sendHeartbeat(id: 3), .scheduleHeartbeat(at: 8)])
        #expect(s.heartbeatDue(now: 8, random: 0) == [.closeConnection, .modeChanged(.offline, since: 8), .scheduleRetry(at: 8)])
        // Worst case: frozen right after the answer at 2 s, detected at 8 s: 6 s.
    }

    @Test func tryNowSkipsTheBackoff() {
        var s = ServerSessionSupervisor(now: 0)
        _ = s.start()
        _ = s.connectFailed(now: 1, random: 1)
        #expect(s.tryNow() == [.cancelRetry, .connect])
        #expect(s.tryNow() == [], "already connecting")
        #expect(s.retryDue(now: 100) == [], "the old retry is void")
    }

    @Test func lateEventsAreIgnored() {
        var s = ServerSessionSupervisor(now: 0)
        #expect(s.connected(now: 1) == [], "not connecting")
        _ = s.start()
        #expect(s.heartbeatDue(now: 1, random: 0) == [])
        #expect(s.stop(now: 2) == [.closeConnection, .cancelRetry])
        #expect(s.connected(now: 3) == [])
    }
}
