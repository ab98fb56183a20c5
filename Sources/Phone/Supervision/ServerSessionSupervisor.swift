// Supervision of the collaboration session as a plain value: connection attempts, heartbeats and
// their answers, loss (the connection closed, or two heartbeats unanswered), and reconnection
// with full-jitter exponential backoff or at once on Try Now. No sockets, no clocks: the caller
// feeds it events with the time and performs the actions it returns. Nothing here touches a call.

import Foundation

public struct ServerSessionSupervisor: Sendable {
    public struct Configuration: Sendable {
        public var heartbeatInterval: Double = 2
        /// Heartbeats left unanswered at once that mean the server is gone.
        public var missedHeartbeats = 2
        /// How long the last of those heartbeats may wait for its answer, as a share of the interval
        /// (answers are immediate; this bounds detection of a silent server below 3 intervals).
        public var answerDeadline: Double = 0.75
        public var backoffBase: Double = 0.5
        /// Small, so a server that comes back after a long outage is found within 2 s; the full
        /// jitter spreads the phones' return over that time.
        public var backoffCap: Double = 1.5
        public init() {}
    }

    public enum State: Sendable, Equatable {
        case stopped
        case connecting(attempt: Int)
        case online(since: Double)
        /// Waiting until `retryAt` before attempt `attempt`.
        case waiting(attempt: Int, retryAt: Double)
    }

    public enum Action: Sendable, Equatable {
        case connect
        case closeConnection
        case sendHeartbeat(id: Int)
        case scheduleHeartbeat(at: Double)
        case scheduleRetry(at: Double)
        case cancelRetry
        /// The mode changed: tell the user (banner) and re-evaluate capabilities.
        case modeChanged(ServerMode, since: Double)
    }

    public let configuration: Configuration
    public private(set) var state: State = .stopped
    public private(set) var mode: ServerMode = .offline
    public private(set) var modeSince: Double
    private var nextHeartbeatID = 0
    private var unanswered: Set<Int> = []

    public init(configuration: Configuration = Configuration(), now: Double) {
        self.configuration = configuration
        modeSince = now
    }

    public mutating func start() -> [Action] {
        guard state == .stopped else { return [] }
        state = .connecting(attempt: 0)
        return [.connect]
    }

    public mutating func connected(now: Double) -> [Action] {
        guard case .connecting = state else { return [] }
        state = .online(since: now)
        unanswered = []
        return setMode(.online, now) + [.scheduleHeartbeat(at: now + configuration.heartbeatInterval)]
    }

    /// The attempt failed (refused, timed out, login refused for a transient reason).
    public mutating func connectFailed(now: Double, random: Double) -> [Action] {
        guard case .connecting(let attempt) = state else { return [] }
        return wait(attempt: attempt + 1, now: now, random: random)
    }

    /// The connection closed (or the transport reported an error) while online.
    public mutating func connectionLost(now: Double, random: Double) -> [Action] {
        switch state {
        case .online:
            return setMode(.offline, now) + wait(attempt: 0, now: now, random: random)
        case .connecting(let attempt):
            return wait(attempt: attempt + 1, now: now, random: random)
        case .stopped, .waiting:
            return []
        }
    }

    /// The heartbeat timer fired.
    public mutating func heartbeatDue(now: Double, random: Double) -> [Action] {
        guard case .online = state else { return [] }
        if unanswered.count >= configuration.missedHeartbeats {
            // Silent server: the connection may look open, but nothing comes back.
            return [.closeConnection] + setMode(.offline, now) + wait(attempt: 0, now: now, random: random)
        }
        nextHeartbeatID += 1
        unanswered.insert(nextHeartbeatID)
        // The heartbeat that would make the count: its answer is awaited only until the deadline.
        let last = unanswered.count >= configuration.missedHeartbeats
        let next = now + configuration.heartbeatInterval * (last ? configuration.answerDeadline : 1)
        return [.sendHeartbeat(id: nextHeartbeatID), .scheduleHeartbeat(at: next)]
    }

    /// Any answer proves the server alive; older heartbeats count as answered too.
    public mutating func heartbeatAnswered(id: Int) {
        unanswered = unanswered.filter { $0 > id }
    }

    public mutating func retryDue(now: Double) -> [Action] {
        guard case .waiting(let attempt, let retryAt) = state, now >= retryAt - 0.001 else { return [] }
        state = .connecting(attempt: attempt)
        return [.connect]
    }

    /// Try Now: an immediate attempt, whatever the backoff said.
    public mutating func tryNow() -> [Action] {
        guard case .waiting(let attempt, _) = state else { return [] }
        state = .connecting(attempt: attempt)
        return [.cancelRetry, .connect]
    }

    public mutating func stop(now: Double) -> [Action] {
        let wasConnected = state != .stopped
        state = .stopped
        return (wasConnected ? [.closeConnection, .cancelRetry] : []) + setMode(.offline, now)
    }

    /// Full jitter (a uniform pause between 0 and the exponential bound), so phones that lost the
    /// same server do not all come back in the same instant.
    public func backoff(attempt: Int, random: Double) -> Double {
        let bound = min(configuration.backoffCap, configuration.backoffBase * pow(2, Double(min(attempt, 30))))
        return bound * min(max(random, 0), 1)
    }

    private mutating func wait(attempt: Int, now: Double, random: Double) -> [Action] {
        let at = now + backoff(attempt: attempt, random: random)
        state = .waiting(attempt: attempt, retryAt: at)
        return [.scheduleRetry(at: at)]
    }

    private mutating func setMode(_ next: ServerMode, _ now: Double) -> [Action] {
        guard mode != next else { return [] }
        mode = next
        modeSince = now
        return [.modeChanged(next, since: now)]
    }
}
