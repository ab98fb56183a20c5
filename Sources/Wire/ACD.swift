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

    public init(agent: String, status: String, reason: String?, device: String?, groups: [String], paths: [Path]) {
        self.agent = agent
        self.status = status
        self.reason = reason
        self.device = device
        self.groups = groups
        self.paths = paths
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

    public init(number: String, name: String, groups: [String], waiting: Int, agentsAvailable: Int, agentsBusy: Int, agentsInWrapUp: Int,
                answered: Int, abandoned: Int, interflowed: Int, averageSpeedOfAnswer: Double?, serviceLevel: Double?) {
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
}
