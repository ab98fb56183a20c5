// The contact center inside the call server: agents log in, out and change state through CTI;
// their login is durable (a restart keeps them logged in); each change is a CTI event and a line
// of the queue log. The ContactCenter value decides; this runs what it decides.

import Foundation
import NIOCore
import Wire

extension CallServer {
    public func agentLogin(_ agent: String, device: String) async throws -> AgentInfo {
        guard configuration.user(device) != nil else {
            throw ControlError(.invalid, "invalid_value", "device: there is no extension \(device) to log in at", details: ["field": "device"])
        }
        try await acd(.login(agent: agent, device: device, now: now()))
        return try agentInfo(agent)
    }

    public func agentLogout(_ agent: String) async throws -> AgentInfo {
        try await acd(.logout(agent: agent, now: now()))
        return try agentInfo(agent)
    }

    /// `available`, or make busy with one of the configured reasons.
    public func setAgentState(_ agent: String, available: Bool, reason: String?) async throws -> AgentInfo {
        if available {
            try await acd(.setIntent(agent: agent, .available, now: now()))
        } else {
            guard let reason else {
                throw ControlError(.invalid, "missing_field", "reason: make busy needs one of \(configuration.acd.reasons.joined(separator: ", "))",
                                   details: ["field": "reason"])
            }
            try await acd(.setIntent(agent: agent, .makeBusy(reason: reason), now: now()))
        }
        return try agentInfo(agent)
    }

    public func endWrapUp(_ agent: String) async throws -> AgentInfo {
        try await acd(.endWrapUp(agent: agent, now: now()))
        return try agentInfo(agent)
    }

    public func agentInfo(_ agent: String) throws -> AgentInfo {
        guard let state = contactCenter.agents[agent] else { throw Self.refusal(.unknownAgent(agent), reasons: configuration.acd.reasons) }
        let groups = configuration.acd.groups.filter { $0.agents.contains(agent) }.map(\.name)
        let paths = configuration.acd.paths.filter { !Set($0.groups).isDisjoint(with: groups) }.map { AgentInfo.Path(number: $0.number, name: $0.name) }
        return AgentInfo(agent: agent, status: state.status, reason: state.reason, device: state.device, groups: groups, paths: paths,
                         reasons: configuration.acd.reasons, wrapUpEndsAt: state.wrapUpEndsAt.map { Date(timeIntervalSince1970: $0) })
    }

    public func agents() -> [AgentInfo] {
        configuration.acd.agentIDs.compactMap { try? agentInfo($0) }
    }

    public func paths() -> [PathInfo] {
        configuration.acd.paths.map { path in
            let members = Set(path.groups.compactMap(configuration.acd.group).flatMap(\.agents))
            let agents = contactCenter.agents.values.filter { members.contains($0.id) && $0.loggedIn }
            let figures = contactCenter.statistics[path.number] ?? PathStatistics()
            let waiting = contactCenter.waiting.filter { $0.path == path.number }
            return PathInfo(number: path.number, name: path.name, groups: path.groups, waiting: waiting.count,
                            agentsAvailable: agents.filter { $0.status == "available" }.count,
                            agentsBusy: agents.filter { ["offered", "onACDCall", "onOtherCall", "makeBusy"].contains($0.status) }.count,
                            agentsInWrapUp: agents.filter { $0.status == "wrapUp" }.count,
                            answered: figures.answered, abandoned: figures.abandoned, interflowed: figures.interflowed,
                            averageSpeedOfAnswer: figures.averageSpeedOfAnswer, serviceLevel: figures.serviceLevel,
                            longestWait: waiting.map(\.enteredAt).min().map { max(0, now() - $0) })
        }
    }

    /// Queue-log lines after `after` (a cursor, as the CDR log's), oldest first.
    public nonisolated func queueLog(after: Int64, limit: Int) throws -> [QueueLogLine] {
        guard after >= 0 else { throw ControlError(.invalid, "invalid_value", "after must be 0 or more", details: ["field": "after"]) }
        guard (1...1000).contains(limit) else { throw ControlError(.invalid, "invalid_value", "limit must be 1–1000", details: ["field": "limit"]) }
        do {
            return try store.queueLog(after: after, limit: limit).map { line in
                QueueLogLine(sequence: line.sequence, time: Date(timeIntervalSince1970: line.entry.time), event: line.entry.kind.rawValue,
                             path: line.entry.path, call: line.entry.call, agent: line.entry.agent, detail: line.entry.detail)
            }
        } catch {
            throw ControlError(.failed, "storage_failed", "the queue log could not be read: \(error)")
        }
    }

    /// Agents logged in before a restart (or crash) stay logged in.
    func restoreAgents() {
        do {
            for (agent, login) in try store.loggedInAgents() {
                contactCenter.restore(agent, device: login.device, intent: login.reason.map { .makeBusy(reason: $0) } ?? .available, now: now())
            }
        } catch {
            logger.error("stored agent logins could not be read", metadata: ["error": "\(error)"])
        }
    }

    /// Gives `event` to the contact center and runs what it decides; a refusal is thrown. An
    /// agent's change is durable before the request that made it is answered.
    func acd(_ event: ContactCenter.Event) async throws {
        var refusal: ContactCenter.Refusal?
        var changed = false
        var saved: [UInt64] = []
        let waitingBefore = contactCenter.waitingPerPath
        for action in contactCenter.handle(event) {
            switch action {
            case .refuse(let why):
                refusal = why
            case .agentChanged(let id):
                guard let agent = contactCenter.agents[id] else { break }
                saved.append(store.saveAgent(id, device: agent.device, reason: agent.reason))
                events.append(.agentChanged(agent: id, status: agent.status, reason: agent.reason, device: agent.device,
                                            wrapUpEndsAt: agent.wrapUpEndsAt.map { Date(timeIntervalSince1970: $0) }))
                changed = true
            case .log(let entry):
                store.appendQueueLog(entry)
            case .startTimer(let timer, let seconds):
                acdTimers[timer]?.cancel()
                acdTimers[timer] = after(seconds: seconds) { server in
                    server.acdTimers[timer] = nil
                    Task { try? await server.acd(.timer(timer, now: server.now())) }
                }
            case .stopTimer(let timer):
                acdTimers.removeValue(forKey: timer)?.cancel()
            case .queue, .offer, .withdrawOffer, .connect, .refuseAnswer, .interflow, .reject:
                await acdCallAction(action)
            }
        }
        let waitingAfter = contactCenter.waitingPerPath
        for path in Set(waitingBefore.keys).union(waitingAfter.keys) where waitingBefore[path] != waitingAfter[path] {
            events.append(.pathChanged(path: path, waiting: waitingAfter[path] ?? 0))
        }
        announceStanding()
        if changed {
            var stored = true
            for ticket in saved where !(await store.durable(through: ticket)) { stored = false }
            if !stored { throw ControlError(.failed, "storage_failed", "the agent's change could not be stored; try again") }
        }
        if let refusal { throw Self.refusal(refusal, reasons: configuration.acd.reasons) }
    }

    static func refusal(_ refusal: ContactCenter.Refusal, reasons: [String]) -> ControlError {
        switch refusal {
        case .unknownAgent(let agent):
            ControlError(.notFound, "unknown_agent", "there is no agent ID \(agent)", details: ["agent": agent, "field": "agent"])
        case .loggedInElsewhere(let agent, let device):
            ControlError(.conflict, "agent_logged_in", "agent \(agent) is logged in at \(device); log out there first", details: ["agent": agent, "device": device])
        case .notLoggedIn(let agent):
            ControlError(.conflict, "agent_logged_out", "agent \(agent) is not logged in", details: ["agent": agent])
        case .onACDCall(let agent):
            ControlError(.conflict, "on_acd_call", "agent \(agent) is in an ACD call: log out after it (make busy meanwhile)", details: ["agent": agent])
        case .unknownReason(let reason):
            ControlError(.invalid, "invalid_value", "reason: \(reason) is not one of \(reasons.joined(separator: ", "))", details: ["field": "reason"])
        case .notInWrapUp(let agent):
            ControlError(.conflict, "invalid_state", "agent \(agent) is not in wrap-up", details: ["agent": agent])
        }
    }
}
