// The contact center as a plain value: agents and the callers waiting on ACD paths. Every event
// (an agent logs in, a caller arrives, an offer is answered or not, a timer fires) returns the
// actions the call server must take; nothing here touches a socket, a clock or a call. After each
// event the waiting callers are matched with agents: on each path by priority then arrival, the
// longest idle available agent of the groups the call has reached (its first group at once, the
// next after the overflow timer). An agent has at most one offer at a time and a call at most one
// agent: an answer from an agent who does not hold the call's offer is refused.

import MediaServices

struct Agent: Sendable, Equatable {
    /// What the agent sets.
    enum Intent: Sendable, Equatable {
        case available
        case makeBusy(reason: String)
    }

    /// What the system sets.
    enum Activity: Sendable, Equatable {
        case idle
        /// The agent's devices ring with an ACD call.
        case offered(call: String, path: String)
        case onACDCall(call: String, path: String)
        /// In a call that did not come through ACD.
        case onOtherCall
        /// Work time after an ACD call of that path.
        case wrapUp(path: String)
    }

    let id: String
    /// The device the agent logged in at (nil: logged out).
    var device: String?
    var intent = Intent.available
    /// An intent set while the agent was busy (offered, on a call, in wrap-up): it applies after.
    var pendingIntent: Intent?
    var activity = Activity.idle
    /// When the agent last became free for ACD calls (the last ACD call ended, or login).
    var idleSince: Double = 0
    /// When the agent's work time ends by itself, while in wrap-up.
    var wrapUpEndsAt: Double?

    var loggedIn: Bool { device != nil }
    var takesOffers: Bool { loggedIn && intent == .available && activity == .idle }

    /// The agent's state in one word, as CTI shows it.
    var status: String {
        guard loggedIn else { return "loggedOut" }
        switch activity {
        case .offered: return "offered"
        case .onACDCall: return "onACDCall"
        case .onOtherCall: return "onOtherCall"
        case .wrapUp: return "wrapUp"
        case .idle: return intent == .available ? "available" : "makeBusy"
        }
    }

    var reason: String? {
        if case .makeBusy(let reason) = intent { reason } else { nil }
    }

    /// Back to idle: what was asked meanwhile applies now.
    mutating func becomeIdle(now: Double?) {
        activity = .idle
        wrapUpEndsAt = nil
        if let now { idleSince = now }
        if let pending = pendingIntent {
            intent = pending
            pendingIntent = nil
        }
    }
}

/// A timer the contact center asks for, named by what it is about.
enum ACDTimer: Sendable, Hashable {
    /// The call reaches its path's next group.
    case overflow(call: String)
    /// The call leaves the path for its interflow destination.
    case interflow(call: String)
    /// The agent's work time ends.
    case wrapUp(agent: String)
}

/// One line of the queue log (append-only; every wallboard and report reads it).
struct QueueLogEntry: Sendable, Equatable {
    enum Kind: String, Sendable {
        case enter, offer, connect, complete, abandon, interflow, ringNoAnswer, full
        case agentLogin, agentLogout, agentState
    }

    var time: Double
    var kind: Kind
    var path: String?
    var call: String?
    var agent: String?
    /// Seconds waited (connect, abandon, interflow) or the agent's new status and reason.
    var detail: String?
}

/// Live figures of one path.
struct PathStatistics: Sendable, Equatable {
    var answered = 0
    var abandoned = 0
    var interflowed = 0
    /// Answered within the service-level threshold.
    var answeredInTime = 0
    var totalWaitAnswered: Double = 0
    /// Average speed of answer, in seconds.
    var averageSpeedOfAnswer: Double? { answered == 0 ? nil : totalWaitAnswered / Double(answered) }
    /// Share answered within the threshold of those answered or abandoned.
    var serviceLevel: Double? {
        let handled = answered + abandoned
        return handled == 0 ? nil : Double(answeredInTime) / Double(handled)
    }
}

struct ContactCenter: Sendable, Equatable {
    struct Waiting: Sendable, Equatable {
        var call: String
        var path: String
        var enteredAt: Double
        /// The last of the path's groups the call has reached (overflow).
        var stage = 0
        var offeredTo: String?
    }

    enum Refusal: Sendable, Equatable {
        case unknownAgent(String)
        case loggedInElsewhere(agent: String, device: String)
        case notLoggedIn(String)
        case onACDCall(String)
        case unknownReason(String)
        case notInWrapUp(String)
    }

    enum Event: Sendable, Equatable {
        case login(agent: String, device: String, now: Double)
        case logout(agent: String, now: Double)
        case setIntent(agent: String, Agent.Intent, now: Double)
        /// The agent ends the work time, or its timer does.
        case endWrapUp(agent: String, now: Double)
        case callArrived(call: String, path: String, now: Double)
        case timer(ACDTimer, now: Double)
        case offerAnswered(call: String, agent: String, now: Double)
        /// The agent's devices did not answer in the ring time, or refused.
        case offerFailed(call: String, agent: String, now: Double)
        /// The caller hung up before an agent answered.
        case callerLeft(call: String, now: Double)
        /// A connected ACD call ended.
        case acdCallEnded(call: String, now: Double)
        case otherCallStarted(agent: String)
        case otherCallEnded(agent: String, now: Double)
    }

    enum Action: Sendable, Equatable {
        case refuse(Refusal)
        /// The caller waits: music and its position announced.
        case queue(call: String, path: String, position: Int)
        /// Ring the agent's device with the call.
        case offer(call: String, agent: String, device: String, ringSeconds: Double)
        /// Stop ringing the agent (the caller left, or the call went elsewhere).
        case withdrawOffer(call: String, agent: String)
        /// The agent's answer joins the caller.
        case connect(call: String, agent: String)
        /// An answer that is not the call's (it was offered to someone else, or is over): hang it up.
        case refuseAnswer(call: String, agent: String)
        case interflow(call: String, to: String)
        /// The queue is full and there is nowhere to send the call.
        case reject(call: String, status: Int)
        case startTimer(ACDTimer, seconds: Double)
        case stopTimer(ACDTimer)
        /// The agent's state changed: keep it (login survives a restart) and announce it.
        case agentChanged(String)
        case log(QueueLogEntry)
    }

    let configuration: ACDConfiguration
    private(set) var agents: [String: Agent]
    /// Callers not yet connected, in arrival order.
    private(set) var waiting: [Waiting] = []
    private(set) var statistics: [String: PathStatistics] = [:]
    /// Answered within this many seconds counts for the service level.
    var serviceLevelSeconds: Double = 20

    init(_ configuration: ACDConfiguration) {
        self.configuration = configuration
        agents = Dictionary(uniqueKeysWithValues: configuration.agentIDs.map { ($0, Agent(id: $0)) })
    }

    /// Agents logged in before a restart stay logged in (idle, with their intent).
    mutating func restore(_ agent: String, device: String, intent: Agent.Intent, now: Double) {
        guard agents[agent] != nil else { return }
        agents[agent]?.device = device
        agents[agent]?.intent = intent
        agents[agent]?.idleSince = now
    }

    /// Where each waiting caller stands, as its announcements say it: its position on its path,
    /// and the wait to expect from now, which is the path's average speed of answer less what the
    /// caller has waited (as Asterisk's queue reckons it; nil before the path answered a call).
    func standing(now: Double) -> [String: QueueStatus] {
        var standing: [String: QueueStatus] = [:]
        var ahead: [String: Int] = [:]
        for entry in waiting.sorted(by: { $0.enteredAt < $1.enteredAt }) {
            guard let path = configuration.path(entry.path) else { continue }
            let position = (ahead[entry.path] ?? 0) + 1
            ahead[entry.path] = position
            let expected = statistics[entry.path]?.averageSpeedOfAnswer.map { max(0, Int(($0 - (now - entry.enteredAt)).rounded())) }
            standing[entry.call] = QueueStatus(position: position, expectedWait: expected, interval: max(1, Int(path.announceSeconds.rounded())))
        }
        return standing
    }

    /// How many callers wait on each path that has any.
    var waitingPerPath: [String: Int] {
        waiting.reduce(into: [:]) { $0[$1.path, default: 0] += 1 }
    }

    func position(of call: String) -> Int? {
        guard let entry = waiting.first(where: { $0.call == call }) else { return nil }
        return waiting.filter { $0.path == entry.path && $0.enteredAt <= entry.enteredAt }.count
    }

    mutating func handle(_ event: Event) -> [Action] {
        var actions: [Action]
        let now: Double
        switch event {
        case .login(let id, let device, let time):
            now = time
            guard let agent = agents[id] else { return [.refuse(.unknownAgent(id))] }
            if let current = agent.device {
                return current == device ? [] : [.refuse(.loggedInElsewhere(agent: id, device: current))]
            }
            agents[id] = Agent(id: id, device: device, idleSince: now)
            actions = [.agentChanged(id), .log(QueueLogEntry(time: now, kind: .agentLogin, agent: id, detail: device))]
        case .logout(let id, let time):
            now = time
            guard let agent = agents[id] else { return [.refuse(.unknownAgent(id))] }
            guard agent.loggedIn else { return [.refuse(.notLoggedIn(id))] }
            switch agent.activity {
            case .offered, .onACDCall: return [.refuse(.onACDCall(id))]
            case .wrapUp: actions = [.stopTimer(.wrapUp(agent: id))]
            case .idle, .onOtherCall: actions = []
            }
            agents[id] = Agent(id: id)
            actions += [.agentChanged(id), .log(QueueLogEntry(time: now, kind: .agentLogout, agent: id))]
        case .setIntent(let id, let intent, let time):
            now = time
            guard var agent = agents[id] else { return [.refuse(.unknownAgent(id))] }
            guard agent.loggedIn else { return [.refuse(.notLoggedIn(id))] }
            if case .makeBusy(let reason) = intent, !configuration.reasons.contains(reason) { return [.refuse(.unknownReason(reason))] }
            if agent.activity == .idle {
                agent.intent = intent
                agent.pendingIntent = nil
            } else {
                agent.pendingIntent = intent
            }
            agents[id] = agent
            actions = [.agentChanged(id), .log(QueueLogEntry(time: now, kind: .agentState, agent: id, detail: Self.describe(intent)))]
        case .endWrapUp(let id, let time):
            now = time
            guard var agent = agents[id] else { return [.refuse(.unknownAgent(id))] }
            guard case .wrapUp = agent.activity else { return [.refuse(.notInWrapUp(id))] }
            agent.becomeIdle(now: now)
            agents[id] = agent
            actions = [.stopTimer(.wrapUp(agent: id)), .agentChanged(id)]
        case .callArrived(let call, let number, let time):
            now = time
            guard let path = configuration.path(number), !waiting.contains(where: { $0.call == call }) else { return [] }
            guard waiting.filter({ $0.path == number }).count < path.maxQueue else {
                let full = QueueLogEntry(time: now, kind: .full, path: number, call: call)
                if let interflow = path.interflow {
                    statistics[number, default: PathStatistics()].interflowed += 1
                    return [.log(full), .interflow(call: call, to: interflow.to)]
                }
                return [.log(full), .reject(call: call, status: 486)]
            }
            waiting.append(Waiting(call: call, path: number, enteredAt: now))
            actions = [.log(QueueLogEntry(time: now, kind: .enter, path: number, call: call)),
                       .queue(call: call, path: number, position: position(of: call) ?? 1)]
            if path.groups.count > 1 { actions.append(.startTimer(.overflow(call: call), seconds: path.overflowSeconds)) }
            if let interflow = path.interflow { actions.append(.startTimer(.interflow(call: call), seconds: interflow.after)) }
        case .timer(let timer, let time):
            now = time
            switch timer {
            case .overflow(let call):
                guard let index = waiting.firstIndex(where: { $0.call == call }), let path = configuration.path(waiting[index].path) else { return [] }
                waiting[index].stage = min(waiting[index].stage + 1, path.groups.count - 1)
                actions = waiting[index].stage < path.groups.count - 1 ? [.startTimer(.overflow(call: call), seconds: path.overflowSeconds)] : []
            case .interflow(let call):
                guard let index = waiting.firstIndex(where: { $0.call == call }), let interflow = configuration.path(waiting[index].path)?.interflow else { return [] }
                let entry = waiting.remove(at: index)
                actions = withdraw(entry) + [.stopTimer(.overflow(call: call)), .interflow(call: call, to: interflow.to),
                                              .log(QueueLogEntry(time: now, kind: .interflow, path: entry.path, call: call, detail: Self.seconds(now - entry.enteredAt)))]
                statistics[entry.path, default: PathStatistics()].interflowed += 1
            case .wrapUp(let id):
                guard var agent = agents[id], case .wrapUp = agent.activity else { return [] }
                agent.becomeIdle(now: now)
                agents[id] = agent
                actions = [.agentChanged(id)]
            }
        case .offerAnswered(let call, let id, let time):
            now = time
            guard let index = waiting.firstIndex(where: { $0.call == call }), waiting[index].offeredTo == id,
                  case .offered(call, let path)? = agents[id]?.activity else {
                return [.refuseAnswer(call: call, agent: id)]
            }
            let entry = waiting.remove(at: index)
            agents[id]?.activity = .onACDCall(call: call, path: path)
            let waited = now - entry.enteredAt
            statistics[path, default: PathStatistics()].answered += 1
            statistics[path, default: PathStatistics()].totalWaitAnswered += waited
            if waited <= serviceLevelSeconds { statistics[path, default: PathStatistics()].answeredInTime += 1 }
            actions = [.stopTimer(.overflow(call: call)), .stopTimer(.interflow(call: call)), .connect(call: call, agent: id), .agentChanged(id),
                       .log(QueueLogEntry(time: now, kind: .connect, path: path, call: call, agent: id, detail: Self.seconds(waited)))]
        case .offerFailed(let call, let id, let time):
            now = time
            guard case .offered(call, let path)? = agents[id]?.activity else { return [] }
            // Ring-no-answer: the agent is put on make busy, the call goes to the next agent.
            agents[id]?.activity = .idle
            agents[id]?.intent = .makeBusy(reason: ACDConfiguration.noAnswerReason)
            agents[id]?.pendingIntent = nil
            if let index = waiting.firstIndex(where: { $0.call == call }) { waiting[index].offeredTo = nil }
            actions = [.agentChanged(id), .log(QueueLogEntry(time: now, kind: .ringNoAnswer, path: path, call: call, agent: id))]
        case .callerLeft(let call, let time):
            now = time
            guard let index = waiting.firstIndex(where: { $0.call == call }) else { return [] }
            let entry = waiting.remove(at: index)
            statistics[entry.path, default: PathStatistics()].abandoned += 1
            actions = withdraw(entry) + [.stopTimer(.overflow(call: call)), .stopTimer(.interflow(call: call)),
                                          .log(QueueLogEntry(time: now, kind: .abandon, path: entry.path, call: call, detail: Self.seconds(now - entry.enteredAt)))]
        case .acdCallEnded(let call, let time):
            now = time
            guard let agent = agents.values.first(where: { if case .onACDCall(call, _) = $0.activity { true } else { false } }),
                  case .onACDCall(_, let path) = agent.activity else { return [] }
            let id = agent.id
            let wrapUp = configuration.wrapUpSeconds(agent: id, path: path)
            actions = [.log(QueueLogEntry(time: now, kind: .complete, path: path, call: call, agent: id))]
            if wrapUp > 0 {
                agents[id]?.activity = .wrapUp(path: path)
                agents[id]?.wrapUpEndsAt = now + wrapUp
                actions.append(.startTimer(.wrapUp(agent: id), seconds: wrapUp))
            } else {
                agents[id]?.becomeIdle(now: now)
            }
            actions.append(.agentChanged(id))
        case .otherCallStarted(let id):
            guard agents[id]?.loggedIn == true, agents[id]?.activity == .idle else { return [] }
            agents[id]?.activity = .onOtherCall
            return [.agentChanged(id)]
        case .otherCallEnded(let id, let time):
            now = time
            guard agents[id]?.activity == .onOtherCall else { return [] }
            // Idle again, but the longest-idle order still counts from the last ACD call.
            agents[id]?.becomeIdle(now: nil)
            actions = [.agentChanged(id)]
        }
        return actions + distribute(now: now)
    }

    // MARK: - Distribution

    /// Offers every waiting call that has no offer to the longest idle available agent it may
    /// reach, path priority first, then arrival.
    private mutating func distribute(now: Double) -> [Action] {
        var actions: [Action] = []
        let order = waiting.indices.sorted { a, b in
            let pa = configuration.path(waiting[a].path)?.priority ?? 0, pb = configuration.path(waiting[b].path)?.priority ?? 0
            return pa != pb ? pa > pb : waiting[a].enteredAt < waiting[b].enteredAt
        }
        for index in order where waiting[index].offeredTo == nil {
            guard let path = configuration.path(waiting[index].path) else { continue }
            let reachable = Set(path.groups.prefix(waiting[index].stage + 1).compactMap(configuration.group).flatMap(\.agents))
            let candidates = agents.values.filter { reachable.contains($0.id) && $0.takesOffers }
            guard let chosen = candidates.min(by: { ($0.idleSince, $0.id) < ($1.idleSince, $1.id) }), let device = chosen.device else { continue }
            let call = waiting[index].call
            waiting[index].offeredTo = chosen.id
            agents[chosen.id]?.activity = .offered(call: call, path: path.number)
            actions += [.offer(call: call, agent: chosen.id, device: device, ringSeconds: path.ringSeconds), .agentChanged(chosen.id),
                        .log(QueueLogEntry(time: now, kind: .offer, path: path.number, call: call, agent: chosen.id))]
        }
        return actions
    }

    /// A call leaving the queue takes its offer with it: the agent is free again, its idle time kept.
    private mutating func withdraw(_ entry: Waiting) -> [Action] {
        guard let id = entry.offeredTo, case .offered(entry.call, _)? = agents[id]?.activity else { return [] }
        agents[id]?.becomeIdle(now: nil)
        return [.withdrawOffer(call: entry.call, agent: id), .agentChanged(id)]
    }

    static func describe(_ intent: Agent.Intent) -> String {
        switch intent {
        case .available: "available"
        case .makeBusy(let reason): "makeBusy \(reason)"
        }
    }

    static func seconds(_ value: Double) -> String { String(Int(value.rounded())) }
}
