// One 20 ms clock for many media sessions on one event loop (a conference room's participants):
// one timer wake-up per period for all of them, instead of one timer each. Deadlines count from
// the clock's start, so delays never accumulate; a clock with no session runs no timer.

import NIOConcurrencyHelpers
import NIOCore

public final class MediaClock: Sendable {
    /// What the clock measured: how late its ticks began, and how long they took.
    public struct Figures: Sendable, Equatable {
        public var ticks = 0
        /// Ticks that began more than a period after their deadline (a frame went out late).
        public var lateTicks = 0
        /// The latest a tick began after its deadline, and the longest a tick took, in microseconds.
        public var maximumLagMicroseconds = 0
        public var maximumTickMicroseconds = 0
    }

    /// The sockets of every session on this clock are on this loop, and it runs their ticks.
    public let eventLoop: any EventLoop
    public let period: TimeAmount

    private struct State {
        var sessions: [ObjectIdentifier: MediaSession] = [:]
        /// Sessions in the order they joined: each tick runs them in it.
        var order: [ObjectIdentifier] = []
        var start: NIODeadline?
        var scheduled: Scheduled<Void>?
        var figures = Figures()
    }

    private let state = NIOLockedValueBox(State())

    public init(eventLoop: any EventLoop, period: TimeAmount = .milliseconds(20)) {
        self.eventLoop = eventLoop
        self.period = period
    }

    public var figures: Figures { state.withLockedValue { $0.figures } }
    public var sessionCount: Int { state.withLockedValue { $0.order.count } }
    /// Whether the timer runs (it does only while a session is attached).
    public var isRunning: Bool { state.withLockedValue { $0.start != nil } }

    /// Adds a session to the ticks; the first one starts the timer.
    func attach(_ session: MediaSession) {
        let id = ObjectIdentifier(session)
        let start: NIODeadline? = state.withLockedValue { state in
            guard state.sessions[id] == nil else { return nil }
            state.sessions[id] = session
            state.order.append(id)
            guard state.start == nil else { return nil }
            let start = NIODeadline.now()
            state.start = start
            state.figures = Figures()  // figures count from this start
            return start
        }
        if let start { schedule(1, start: start) }
    }

    /// Takes a session out of the ticks; the last one stops the timer.
    func detach(_ session: MediaSession) {
        let id = ObjectIdentifier(session)
        let cancel: Scheduled<Void>? = state.withLockedValue { state in
            guard state.sessions.removeValue(forKey: id) != nil else { return nil }
            state.order.removeAll { $0 == id }
            guard state.order.isEmpty else { return nil }
            state.start = nil
            defer { state.scheduled = nil }
            return state.scheduled
        }
        cancel?.cancel()
    }

    private func schedule(_ n: Int, start: NIODeadline) {
        let deadline = start + period * Int64(n)
        let scheduled = eventLoop.scheduleTask(deadline: deadline) { [weak self] () -> Void in
            self?.tick(n, start: start, deadline: deadline)
        }
        state.withLockedValue { state in
            if state.start == start { state.scheduled = scheduled } else { scheduled.cancel() }
        }
    }

    private func tick(_ n: Int, start: NIODeadline, deadline: NIODeadline) {
        let began = NIODeadline.now()
        guard let sessions = state.withLockedValue({ state -> [MediaSession]? in
            guard state.start == start else { return nil }  // stopped (and perhaps restarted) meanwhile
            return state.order.compactMap { state.sessions[$0] }
        }) else { return }
        for session in sessions {
            session.assumeIsolated { $0.clockTick() }
        }
        let ended = NIODeadline.now()
        state.withLockedValue { state in
            let lag = Int((began - deadline).nanoseconds / 1000)
            state.figures.ticks += 1
            if began - deadline > period { state.figures.lateTicks += 1 }
            state.figures.maximumLagMicroseconds = max(state.figures.maximumLagMicroseconds, lag)
            state.figures.maximumTickMicroseconds = max(state.figures.maximumTickMicroseconds, Int((ended - began).nanoseconds / 1000))
        }
        schedule(n + 1, start: start)
    }
}
