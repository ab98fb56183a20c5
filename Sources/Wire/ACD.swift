// The contact center on the wire: an agent and a path as the call server's CTI shows them (the
// collaboration server passes the agent on to the phone as it is), and the queue log's lines.

import Foundation

/// An ACD agent as CTI shows it, and as the phone keeps it.
public struct AgentInfo: Codable, Sendable, Equatable {
    /// A path whose calls the agent takes.
    public struct Path: Codable, Sendable, Equatable {
        public var number: String
        public var name: String

        public init(number: String, name: String) {
            self.number = number
            self.name = name
        }
    }

    public var agent: String
    /// loggedOut, available, makeBusy, offered, onACDCall, onOtherCall, wrapUp.
    public var status: String
    public var reason: String?
    /// The extension whose phone the agent logged in at (nil: logged out).
    public var device: String?
    public var groups: [String]
    /// The paths of its groups.
    public var paths: [Path]
    /// The make-busy reasons the agent may give (the call server's `acd.reasons`).
    public var reasons: [String]
    /// In wrap-up: when the work time ends by itself.
    public var wrapUpEndsAt: Date?

    public init(agent: String, status: String, reason: String?, device: String?, groups: [String], paths: [Path], reasons: [String] = [],
                wrapUpEndsAt: Date? = nil) {
        self.agent = agent
        self.status = status
        self.reason = reason
        self.device = device
        self.groups = groups
        self.paths = paths
        self.reasons = reasons
        self.wrapUpEndsAt = wrapUpEndsAt
    }

    enum CodingKeys: String, CodingKey { case agent, status, reason, device, groups, paths, reasons, wrapUpEndsAt }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        agent = try c.decode(String.self, forKey: .agent)
        status = try c.decode(String.self, forKey: .status)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        device = try c.decodeIfPresent(String.self, forKey: .device)
        groups = try c.decodeIfPresent([String].self, forKey: .groups) ?? []
        paths = try c.decodeIfPresent([Path].self, forKey: .paths) ?? []
        reasons = try c.decodeIfPresent([String].self, forKey: .reasons) ?? []
        wrapUpEndsAt = try c.decodeIfPresent(Date.self, forKey: .wrapUpEndsAt)
    }

    public var loggedIn: Bool { device != nil && status != "loggedOut" }

    /// Every field present, null when unset (as CTI shows its objects).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(agent, forKey: .agent)
        try c.encode(status, forKey: .status)
        try c.encode(reason, forKey: .reason)
        try c.encode(device, forKey: .device)
        try c.encode(groups, forKey: .groups)
        try c.encode(paths, forKey: .paths)
        try c.encode(reasons, forKey: .reasons)
        try c.encode(wrapUpEndsAt, forKey: .wrapUpEndsAt)
    }
}

/// An ACD path's live figures, as CTI shows them.
public struct PathInfo: Codable, Sendable, Equatable {
    public var number: String
    public var name: String
    /// Its agent groups, in order.
    public var groups: [String]
    public var waiting: Int
    public var agentsAvailable: Int
    public var agentsBusy: Int
    public var agentsInWrapUp: Int
    public var answered: Int
    public var abandoned: Int
    public var interflowed: Int
    public var averageSpeedOfAnswer: Double?
    public var serviceLevel: Double?
    /// Seconds the longest-waiting caller has waited (nil: nobody waits).
    public var longestWait: Double?

    public init(number: String, name: String, groups: [String], waiting: Int, agentsAvailable: Int, agentsBusy: Int, agentsInWrapUp: Int,
                answered: Int, abandoned: Int, interflowed: Int, averageSpeedOfAnswer: Double?, serviceLevel: Double?, longestWait: Double? = nil) {
        self.number = number
        self.name = name
        self.groups = groups
        self.waiting = waiting
        self.agentsAvailable = agentsAvailable
        self.agentsBusy = agentsBusy
        self.agentsInWrapUp = agentsInWrapUp
        self.answered = answered
        self.abandoned = abandoned
        self.interflowed = interflowed
        self.averageSpeedOfAnswer = averageSpeedOfAnswer
        self.serviceLevel = serviceLevel
        self.longestWait = longestWait
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(number, forKey: .number)
        try c.encode(name, forKey: .name)
        try c.encode(groups, forKey: .groups)
        try c.encode(waiting, forKey: .waiting)
        try c.encode(agentsAvailable, forKey: .agentsAvailable)
        try c.encode(agentsBusy, forKey: .agentsBusy)
        try c.encode(agentsInWrapUp, forKey: .agentsInWrapUp)
        try c.encode(answered, forKey: .answered)
        try c.encode(abandoned, forKey: .abandoned)
        try c.encode(interflowed, forKey: .interflowed)
        try c.encode(averageSpeedOfAnswer, forKey: .averageSpeedOfAnswer)
        try c.encode(serviceLevel, forKey: .serviceLevel)
        try c.encode(longestWait, forKey: .longestWait)
    }
}

/// One line of the call server's queue log (`GET /cti/v1/queue-log`): every ACD event, in order.
public struct QueueLogLine: Codable, Sendable, Equatable {
    /// A cursor: read on with `after` = the last one seen.
    public var sequence: Int64
    public var time: Date
    /// enter, offer, connect, complete, abandon, interflow, ringNoAnswer, full, agentLogin, agentLogout, agentState.
    public var event: String
    public var path: String?
    public var call: String?
    public var agent: String?
    /// Seconds waited (connect, abandon, interflow), the agent's state or its device.
    public var detail: String?

    public init(sequence: Int64, time: Date, event: String, path: String?, call: String?, agent: String?, detail: String?) {
        self.sequence = sequence
        self.time = time
        self.event = event
        self.path = path
        self.call = call
        self.agent = agent
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey { case sequence, time, event, path, call, agent, detail }

    /// Every field present (null when unset), as CTI shows its objects; the time to the
    /// millisecond (`2026-12-01T14:00:53.300Z`), since reports reckon waits in milliseconds.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(Self.format(time), forKey: .time)
        try c.encode(event, forKey: .event)
        try c.encode(path, forKey: .path)
        try c.encode(call, forKey: .call)
        try c.encode(agent, forKey: .agent)
        try c.encode(detail, forKey: .detail)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try c.decode(Int64.self, forKey: .sequence)
        let text = try c.decode(String.self, forKey: .time)
        guard let time = Self.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: .time, in: c, debugDescription: "time \(text) is not an ISO 8601 time")
        }
        self.time = time
        event = try c.decode(String.self, forKey: .event)
        path = try c.decodeIfPresent(String.self, forKey: .path)
        call = try c.decodeIfPresent(String.self, forKey: .call)
        agent = try c.decodeIfPresent(String.self, forKey: .agent)
        detail = try c.decodeIfPresent(String.self, forKey: .detail)
    }

    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func parse(_ text: String) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) ?? (try? Date(text, strategy: .iso8601))
    }
}

/// What a supervisor's wallboard shows (the collaboration server's `GET /api/v1/wallboard`, and
/// each frame of its live WebSocket): every path's figures and every agent's state, as the call
/// server last gave them.
public struct WallboardSnapshot: Codable, Sendable, Equatable {
    public var paths: [PathInfo]
    public var agents: [AgentInfo]
    /// `connected`, or `unreachable` when the figures are the last ones read before the call
    /// server's CTI stopped answering.
    public var callServer: String
    /// When the figures were read.
    public var time: Date

    public init(paths: [PathInfo], agents: [AgentInfo], callServer: String, time: Date) {
        self.paths = paths
        self.agents = agents
        self.callServer = callServer
        self.time = time
    }
}
