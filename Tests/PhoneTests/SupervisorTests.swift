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
        // Each failure doubles the bound, up to 1.5 s; the pause is uniform below it.
        #expect(s.connectFailed(now: 11, random: 1) == [.scheduleRetry(at: 12)])
        #expect(s.backoff(attempt: 1, random: 0.5) == 0.5)
        #expect(s.backoff(attempt: 2, random: 1) == 1.5)
        #expect(s.backoff(attempt: 10, random: 1) == 1.5)
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
        // The second unanswered heartbeat gets 1.5 s for its answer, not a whole interval.
        #expect(s.heartbeatDue(now: 6, random: 0) == [.sendHeartbeat(id: 3), .scheduleHeartbeat(at: 7.5)])
        #expect(s.heartbeatDue(now: 7.5, random: 0) == [.closeConnection, .modeChanged(.offline, since: 7.5), .scheduleRetry(at: 7.5)])
        // Worst case: frozen right after the answer at 2 s, detected at 7.5 s: 5.5 s, under the 6 s goal.
    }

    @Test func aLateAnswerBeforeTheDeadlineKeepsTheSessionAndTheRhythm() {
        var s = ServerSessionSupervisor(now: 0)
        _ = s.start()
        _ = s.connected(now: 0)
        _ = s.heartbeatDue(now: 2, random: 0)
        #expect(s.heartbeatDue(now: 4, random: 0) == [.sendHeartbeat(id: 2), .scheduleHeartbeat(at: 5.5)])
        s.heartbeatAnswered(id: 2)
        #expect(s.heartbeatDue(now: 5.5, random: 0) == [.sendHeartbeat(id: 3), .scheduleHeartbeat(at: 7.5)])
        #expect(s.mode == .online)
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
