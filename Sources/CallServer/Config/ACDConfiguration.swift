// The contact center's configuration (docs/pbx-config.md, `acd:`): agent groups of agent IDs,
// and ACD paths, each a number callers dial that queues them for its groups in order.

import ConfigFile
import Foundation

public struct ACDConfiguration: Codable, Sendable, Equatable {
    /// Agents who answer a path's calls. An agent ID is a number an agent logs in with, at
    /// whatever device they use.
    public struct Group: Codable, Sendable, Equatable {
        public var name: String
        public var agents: [String]
        /// Work time after each ACD call (0–600 s); the agent may end it sooner.
        public var wrapUpSeconds: Double = 0

        public init(name: String, agents: [String], wrapUpSeconds: Double = 0) {
            self.name = name
            self.agents = agents
            self.wrapUpSeconds = wrapUpSeconds
        }

        enum CodingKeys: String, CodingKey { case name, agents, wrapUpSeconds }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            agents = try c.decodeIfPresent([String].self, forKey: .agents) ?? []
            wrapUpSeconds = try c.decodeIfPresent(Double.self, forKey: .wrapUpSeconds) ?? 0
        }
    }

    /// Where a call goes that waited too long on a path.
    public struct Interflow: Codable, Sendable, Equatable {
        /// Seconds in the queue before it goes.
        public var after: Double
        /// An extension (or another path's number).
        public var to: String

        public init(after: Double, to: String) {
            self.after = after
            self.to = to
        }
    }

    public struct Path: Codable, Sendable, Equatable {
        public var number: String
        public var name: String
        /// Higher first: an agent free for calls on two paths takes the higher one's first.
        public var priority: Int = 0
        /// Agent groups in order: the first at once, each next one after `overflowSeconds` more.
        public var groups: [String]
        public var overflowSeconds: Double = 30
        public var interflow: Interflow?
        /// Callers beyond this many waiting go to interflow at once (or get 486 without one).
        public var maxQueue: Int = 20
        /// How often a waiting caller hears its position.
        public var announceSeconds: Double = 30
        /// How long an agent's devices ring before the offer goes to the next agent.
        public var ringSeconds: Double = 15

        public init(number: String, name: String, priority: Int = 0, groups: [String], overflowSeconds: Double = 30, interflow: Interflow? = nil,
                    maxQueue: Int = 20, announceSeconds: Double = 30, ringSeconds: Double = 15) {
            self.number = number
            self.name = name
            self.priority = priority
            self.groups = groups
            self.overflowSeconds = overflowSeconds
            self.interflow = interflow
            self.maxQueue = maxQueue
            self.announceSeconds = announceSeconds
            self.ringSeconds = ringSeconds
        }

        enum CodingKeys: String, CodingKey { case number, name, priority, groups, overflowSeconds, interflow, maxQueue, announceSeconds, ringSeconds }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = Path(number: "", name: "", groups: [])
            number = try c.decode(String.self, forKey: .number)
            name = try c.decode(String.self, forKey: .name)
            priority = try c.decodeIfPresent(Int.self, forKey: .priority) ?? defaults.priority
            groups = try c.decodeIfPresent([String].self, forKey: .groups) ?? []
            overflowSeconds = try c.decodeIfPresent(Double.self, forKey: .overflowSeconds) ?? defaults.overflowSeconds
            interflow = try c.decodeIfPresent(Interflow.self, forKey: .interflow)
            maxQueue = try c.decodeIfPresent(Int.self, forKey: .maxQueue) ?? defaults.maxQueue
            announceSeconds = try c.decodeIfPresent(Double.self, forKey: .announceSeconds) ?? defaults.announceSeconds
            ringSeconds = try c.decodeIfPresent(Double.self, forKey: .ringSeconds) ?? defaults.ringSeconds
        }
    }

    public var groups: [Group] = []
    public var paths: [Path] = []
    /// The reasons an agent may give for make busy (`no answer` is the system's own).
    public var reasons: [String] = ACDConfiguration.defaultReasons

    public static let defaultReasons = ["break", "lunch", "meeting", "training"]
    public static let noAnswerReason = "no answer"

    public init(groups: [Group] = [], paths: [Path] = [], reasons: [String] = ACDConfiguration.defaultReasons) {
        self.groups = groups
        self.paths = paths
        self.reasons = reasons
    }

    enum CodingKeys: String, CodingKey { case groups, paths, reasons }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        groups = try c.decodeIfPresent([Group].self, forKey: .groups) ?? []
        paths = try c.decodeIfPresent([Path].self, forKey: .paths) ?? []
        reasons = try c.decodeIfPresent([String].self, forKey: .reasons) ?? Self.defaultReasons
    }

    public func group(_ name: String) -> Group? { groups.first { $0.name == name } }
    public func path(_ number: String) -> Path? { paths.first { $0.number == number } }
    /// Every agent ID of every group, once, in the order first listed.
    public var agentIDs: [String] {
        var seen = Set<String>()
        return groups.flatMap(\.agents).filter { seen.insert($0).inserted }
    }

    /// The work time after an ACD call of `path` for `agent`: that of the first of the path's groups
    /// the agent is in.
    public func wrapUpSeconds(agent: String, path number: String) -> Double {
        guard let path = path(number) else { return 0 }
        return path.groups.compactMap(group).first { $0.agents.contains(agent) }?.wrapUpSeconds ?? 0
    }

    /// Checks names, numbers and timers; `taken` says whether a number is already someone's
    /// (a user's extension or a numbering entry), `isTarget` whether an interflow can go there.
    func validate(source: String, taken: (String) -> Bool, isTarget: (String) -> Bool) throws {
        var groupNames = Set<String>()
        var agentGroups: [String: String] = [:]
        for (index, group) in groups.enumerated() {
            let key = "\(source): acd.groups[\(index)]"
            guard !group.name.trimmingCharacters(in: .whitespaces).isEmpty else { throw ConfigurationError("\(key).name is empty") }
            guard groupNames.insert(group.name).inserted else { throw ConfigurationError("\(key).name \(group.name) appears twice") }
            guard (0...600).contains(group.wrapUpSeconds) else { throw ConfigurationError("\(key).wrapUpSeconds must be 0–600") }
            for (agentIndex, agent) in group.agents.enumerated() {
                guard !agent.isEmpty, agent.allSatisfy(\.isNumber) else { throw ConfigurationError("\(key).agents[\(agentIndex)] must be digits") }
                guard !taken(agent) else { throw ConfigurationError("\(key).agents[\(agentIndex)] \(agent) is already a user's extension or a dialed number") }
                if agentGroups[agent] == group.name { throw ConfigurationError("\(key).agents[\(agentIndex)] \(agent) appears twice") }
                agentGroups[agent] = group.name
            }
        }
        var numbers = Set<String>()
        for (index, path) in paths.enumerated() {
            let key = "\(source): acd.paths[\(index)]"
            guard !path.number.isEmpty, path.number.allSatisfy(\.isNumber) else { throw ConfigurationError("\(key).number must be digits") }
            guard numbers.insert(path.number).inserted else { throw ConfigurationError("\(key).number \(path.number) appears twice") }
            guard !taken(path.number), agentGroups[path.number] == nil else {
                throw ConfigurationError("\(key).number \(path.number) is already a user's extension, an agent ID or a dialed number")
            }
            guard !path.name.trimmingCharacters(in: .whitespaces).isEmpty else { throw ConfigurationError("\(key).name is empty") }
            guard !path.groups.isEmpty else { throw ConfigurationError("\(key).groups: name at least one agent group") }
            for (groupIndex, name) in path.groups.enumerated() where !groupNames.contains(name) {
                throw ConfigurationError("\(key).groups[\(groupIndex)]: there is no agent group \(name)")
            }
            guard path.overflowSeconds > 0 else { throw ConfigurationError("\(key).overflowSeconds must be positive") }
            guard path.maxQueue >= 1 else { throw ConfigurationError("\(key).maxQueue must be 1 or more") }
            guard path.announceSeconds >= 5 else { throw ConfigurationError("\(key).announceSeconds must be 5 or more") }
            guard (5...120).contains(path.ringSeconds) else { throw ConfigurationError("\(key).ringSeconds must be 5–120") }
            if let interflow = path.interflow {
                guard interflow.after > 0 else { throw ConfigurationError("\(key).interflow.after must be positive") }
                guard interflow.to != path.number else { throw ConfigurationError("\(key).interflow.to must be another number than the path's") }
                guard isTarget(interflow.to) || paths.contains(where: { $0.number == interflow.to }) else {
                    throw ConfigurationError("\(key).interflow.to: \(interflow.to) is no extension, dialed number or ACD path")
                }
            }
        }
        for (index, reason) in reasons.enumerated() {
            guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ConfigurationError("\(source): acd.reasons[\(index)] is empty") }
        }
    }
}
