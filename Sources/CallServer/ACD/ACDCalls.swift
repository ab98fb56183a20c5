// Calls to ACD paths: the caller is answered by the queue's music, the contact center offers the
// call to an agent by ringing the phone the agent is logged in at (the one ringing driver), and the
// agent's answer takes the music's place with a re-INVITE of the caller. Interflow hands the
// caller on as a blind transfer does; a full queue is refused with 486.

import Foundation
import MediaServices
import SIP
import SIPCore
import SIPMessage
import Wire

extension CallServer {
    /// On an ACD offer: `agent=7001;path=5000;name="Sales"`.
    static let acdHeader = HeaderName(HoldfastHeader.acd)

    /// A caller dialed an ACD path.
    func acdArrive(_ call: Call) async {
        guard let path = call.acd?.path else { return }
        try? await acd(.callArrived(call: call.key, path: path, now: now()))
    }

    /// What the contact center decided for a call.
    func acdCallAction(_ action: ContactCenter.Action) async {
        switch action {
        case .queue(let key, _, _):
            // Answered by the queue's music while it waits.
            guard let call = calls[key], call.life.isUnanswered, call.service == nil else { break }
            call.service = .queue
            await route(call)
        case .offer(let key, let agent, let device, let ringSeconds):
            guard let call = calls[key], let path = call.acd.flatMap({ configuration.acd.path($0.path) }) else { break }
            let session = call.offer, type = call.offerType ?? .sdp, caller = call.caller
            // The phone shows the offer as an ACD call: which agent, which path.
            let acd = "agent=\(agent);path=\(path.number);name=\"\(path.name.filter { $0 != "\"" && $0 != ";" })\""
            acdOffers[key] = Task {
                let result = await self.reach(device, from: caller, body: session, contentType: type, seconds: ringSeconds, acknowledge: true,
                                              headers: [(Self.callHeader, key), (Self.acdHeader, acd)])
                await self.acdOfferEnded(key, agent: agent, device: device, result: result)
            }
        case .withdrawOffer(let key, _):
            acdOffers.removeValue(forKey: key)?.cancel()
        case .connect(let key, let agent):
            await acdConnect(key, agent: agent)
        case .refuseAnswer(let key, let agent):
            if let reached = acdAnswers.removeValue(forKey: "\(key)|\(agent)") {
                await hangUpLateAnswer(reached.request, response: reached.response, target: reached.target)
            }
        case .interflow(let key, let to):
            guard let call = calls[key] else { break }
            await acdInterflow(call, to: to)
        case .reject(let key, let status):
            guard let call = calls[key] else { break }
            call.acd = nil
            await advance(call, .unanswered(status: status, reason: "Busy Here (the queue is full)", outcome: .busy))
        case .refuse, .agentChanged, .log, .startTimer, .stopTimer:
            break  // the contact center's own actions, run by acd(_:)
        }
    }

    private func acdOfferEnded(_ key: String, agent: String, device: String, result: Result<Reached, ControlError>) async {
        // A withdrawn offer was removed from acdOffers when it was cancelled.
        let withdrawn = Task.isCancelled
        if !withdrawn { acdOffers[key] = nil }
        switch result {
        case .success(let reached):
            acdAnswers["\(key)|\(agent)"] = reached
            try? await acd(.offerAnswered(call: key, agent: agent, now: now()))
        case .failure:
            // A withdrawn offer was the contact center's own doing; anything else is ring-no-answer.
            if !withdrawn { try? await acd(.offerFailed(call: key, agent: agent, now: now())) }
        }
    }

    /// The agent's answer takes the place of the queue's music: the music leg is ended and the
    /// caller re-INVITEd with the agent's session.
    private func acdConnect(_ key: String, agent: String) async {
        guard let reached = acdAnswers.removeValue(forKey: "\(key)|\(agent)") else { return }
        guard let call = calls[key] else {
            await hangUpLateAnswer(reached.request, response: reached.response, target: reached.target)
            return
        }
        await waitUntilAnswered(call)
        guard calls[key] === call, call.state == .answered, call.acd != nil else {
            await hangUpLateAnswer(reached.request, response: reached.response, target: reached.target)
            return
        }
        let user = reached.request.to.flatMap { if case .sip(let uri) = $0.uri { uri.user } else { nil } } ?? agent
        call.acd?.agent = agent
        call.acd?.connected = true
        await dropLeg(call, .callee)  // the queue's music
        call.service = nil
        call.seat(user, on: .callee, name: configuration.user(user)?.name)
        call.path += ["acd", agent, user]
        placeLeg(call, on: .callee, dialog: reached.dialog, target: reached.target, from: reached.response.body, to: call.offer, device: reached.device)
        let rebridged = await reoffer(call, side: .caller, session: reached.response.body, direction: "sendrecv")
        if !rebridged { logger.warning("the caller refused the agent's session", metadata: ["call": "\(key)", "agent": "\(agent)"]) }
        events.append(.callAnswered(call: key, caller: call.caller, callee: user, device: reached.device))
    }

    /// A caller that waited too long (or found the queue full) goes to the interflow destination:
    /// another path's queue, or an extension rung like a blind transfer's target.
    private func acdInterflow(_ call: Call, to destination: String) async {
        call.path += ["interflow", destination]
        if configuration.acd.path(destination) != nil {
            call.acd = Call.ACDState(path: destination)
            await acdArrive(call)
            return
        }
        call.acd = nil
        guard call.state == .answered else {
            await retarget(call, to: destination, reason: "interflow")
            return
        }
        // On the queue's music: its leg is let go, and the caller hears music again while the
        // destination rings (as in a blind transfer).
        await dropLeg(call, .callee)
        call.service = nil
        guard configuration.user(destination) != nil else {
            await advance(call, .transferFailed(staying: .caller))
            return
        }
        await completeTransfer(call, leaving: .callee, to: destination, session: call.offer)
    }

    /// Tells each waiting caller's queue service where the caller now stands, when its position
    /// changed or its expected wait moved by half a minute or more from what it was told.
    func announceStanding() {
        let now = now()
        var changes: [(Call, QueueStatus)] = []
        for (key, status) in contactCenter.standing(now: now) {
            guard let call = calls[key], call.service == .queue, call.dialog(.callee) != nil else { continue }
            if let last = call.acd?.announced, last.status.position == status.position, last.status.interval == status.interval {
                let told = last.status.expectedWait.map { $0 - Int((now - last.at).rounded()) }
                switch (told, status.expectedWait) {
                case (nil, nil): continue
                case (let told?, let expected?) where abs(told - expected) < 30: continue
                default: break
                }
            }
            call.acd?.announced = (status, now)
            changes.append((call, status))
        }
        guard !changes.isEmpty else { return }
        Task {
            for (call, status) in changes { await self.sendStanding(status, to: call) }
        }
    }

    private func sendStanding(_ status: QueueStatus, to call: Call) async {
        guard call.service == .queue, var dialog = call.dialog(.callee), let target = call.legTarget(.callee) else { return }
        var info = dialog.makeRequest(.info)
        call.setDialog(.callee, dialog)
        info.setBody(Array(status.text.utf8), contentType: QueueStatus.contentType)
        _ = await finalResponse(info, to: target)
    }

    /// A call that is not an ACD call is placed from an agent's phone, or connected: agents logged
    /// in at its parties' phones take no ACD offer while it lasts (and keep their idle time).
    func agentsInCall(_ call: Call, parties: Set<String>? = nil) async {
        guard !contactCenter.agents.isEmpty else { return }
        // An ACD caller may itself be an agent's phone; the agent who answers is on the ACD call.
        let parties = parties ?? (call.acd == nil ? [call.caller, call.target] : [call.caller])
        for agent in contactCenter.agents.values where agent.device.map(parties.contains) == true && agent.activity == .idle {
            call.agentsOnOtherCall.append(agent.id)
            try? await acd(.otherCallStarted(agent: agent.id))
        }
    }

    /// The call ended: its agents are free for ACD calls again.
    func agentsLeftCall(_ call: Call) async {
        let agents = call.agentsOnOtherCall
        call.agentsOnOtherCall = []
        for agent in agents { try? await acd(.otherCallEnded(agent: agent, now: now())) }
    }

    /// Waits until the caller is answered (or the call is over).
    func waitUntilAnswered(_ call: Call) async {
        guard calls[call.key] === call, call.life.isUnanswered else { return }
        await withCheckedContinuation { call.answeredWaiters.append($0) }
    }

    func releaseAnswerWaiters(_ call: Call) {
        let waiting = call.answeredWaiters
        call.answeredWaiters = []
        for continuation in waiting { continuation.resume() }
    }
}
