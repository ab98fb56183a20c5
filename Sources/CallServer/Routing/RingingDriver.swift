// The one driver of the ringing engine (Ringing.swift), for every path that rings devices: a
// call's callee (and its forwardings), a media service, and a user's devices reached for call
// control (click-to-dial's originator, a blind transfer's target, a callback). It sends the
// INVITE of each fork, feeds every response and the ring timer to the engine, and carries out
// what it decides: relay progress, hand the winner on, cancel the rest, release a late answer
// (one way, `hangUpLateAnswer`), fail or forward.

import Foundation
import NIOCore
import SIP
import SIPCore
import SIPMessage

/// One ringing of some devices. Only touched inside the CallServer actor.
final class RingRound: @unchecked Sendable {
    struct Fork: Sendable {
        var request: SIPRequest
        var target: SIPTarget
        var device: String
    }

    enum Purpose {
        /// The target of a call (`call`): the winner joins it as its callee's leg; a failure goes
        /// to forwarding or to the caller.
        case call
        /// A user's devices reached for call control: the winner (ACKed here when `acknowledge`,
        /// else the caller's ACK must carry an answer) is handed back to whoever waits.
        case reach(user: String, acknowledge: Bool)
    }

    var forks: [Fork]
    let purpose: Purpose
    /// The call rung for. Weak: a fork's INVITE transaction outlives the call by up to 64·T1
    /// (RFC 6026), and its task holds the round, not the call, meanwhile.
    weak var call: Call?
    var engine = Ringing()
    var timer: Scheduled<Void>?
    /// For `.reach`: who waits for the outcome (resumed once), and the winner's dialog.
    var waiting: CheckedContinuation<Result<CallServer.Reached, ControlError>, Never>?
    var winner: Dialog?
    var withdrawn = false

    init(forks: [Fork], purpose: Purpose, call: Call? = nil) {
        self.forks = forks
        self.purpose = purpose
        self.call = call
    }
}

extension CallServer {
    /// Rings `forks` as the call's ringing now: responses to an earlier ringing's INVITEs are not
    /// this one's (a 2xx among them is released).
    func ring(_ call: Call, forks: [RingRound.Fork], seconds: Double?) async {
        // A call that ended meanwhile (the caller cancelled during a forwarding) rings nobody; a
        // ringing still running (a forward and a deflection at once) is cancelled first.
        guard !call.life.isEnded, calls[call.key] === call else { return }
        if call.ringing != nil { await stopRinging(call) }
        let round = RingRound(forks: forks, purpose: .call, call: call)
        call.ringing = round
        await advance(call, .ringing)
        await prepare(round)
        guard call.ringing === round else { return }
        await perform(round.engine.start(forks: round.forks.count, seconds: seconds), round)
    }

    /// Stops the call's ringing for good (the caller cancelled, the call was cleared, deflected or
    /// is forwarded): every device still ringing gets CANCEL.
    func stopRinging(_ call: Call) async {
        guard let round = call.ringing else { return }
        call.ringing = nil
        await perform(round.engine.cancel(), round)
    }

    /// Rings `user`'s devices in parallel with an INVITE from `from` (no body: the device makes
    /// the offer); the first to answer wins and the others are cancelled. The winner is ACKed here
    /// only when `acknowledge`. Cancelling the calling task withdraws the ringing.
    func reach(_ user: String, from: String, body: [UInt8], contentType: MediaType?, seconds: Double, acknowledge: Bool,
               headers: [(HeaderName, String)] = [], device: String? = nil, fromDisplay: String? = nil) async -> Result<Reached, ControlError> {
        let bindings = deviceBindings(user, device: device)
        guard !bindings.isEmpty else {
            return .failure(ControlError(.conflict, "device_unavailable", "\(user) has no registered device", details: ["user": user]))
        }
        let forks = bindings.map { binding in
            var invite = makeInvite(to: binding, callee: user, from: from, body: body, contentType: contentType, fromDisplay: fromDisplay)
            for (name, value) in headers { invite.request.headers.add(name, value) }
            return RingRound.Fork(request: invite.request, target: invite.target, device: binding.deviceName)
        }
        let round = RingRound(forks: forks, purpose: .reach(user: user, acknowledge: acknowledge))
        await prepare(round)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { waiting in
                round.waiting = waiting
                guard !round.withdrawn, !Task.isCancelled else {
                    Task { await self.withdraw(round) }
                    return
                }
                Task { await self.perform(round.engine.start(forks: round.forks.count, seconds: seconds), round) }
            }
        } onCancel: {
            Task { await self.withdraw(round) }
        }
    }

    /// The task waiting for `reach` was cancelled: what rings stops, the waiter learns it (a
    /// device that answered meanwhile is released).
    private func withdraw(_ round: RingRound) async {
        round.withdrawn = true
        await perform(round.engine.cancel(), round)
        if case .reach(let user, _) = round.purpose {
            resume(round, .failure(ControlError(.failed, "no_answer", "\(user) did not answer (487)", details: ["user": user, "status": "487"])))
        }
    }

    private func resume(_ round: RingRound, _ result: Result<Reached, ControlError>) {
        guard let waiting = round.waiting else { return }
        round.waiting = nil
        waiting.resume(returning: result)
    }

    /// Each INVITE is kept as sent (with its Via branch) before it leaves, so its CANCEL matches.
    private func prepare(_ round: RingRound) async {
        for index in round.forks.indices {
            var request = round.forks[index].request
            request.headers.add(.contact, serverContact(round.forks[index].target.kind))
            round.forks[index].request = await stack.prepared(request, for: round.forks[index].target)
        }
    }

    /// Whether the round still decides for its call (not superseded by another ringing, nor the
    /// call gone).
    private func current(_ round: RingRound) -> Call? {
        guard case .call = round.purpose, let call = round.call else { return nil }
        return calls[call.key] === call && call.ringing === round ? call : nil
    }

    private func sendFork(_ round: RingRound, index: Int) {
        let request = round.forks[index].request, target = round.forks[index].target
        Task {
            do {
                for try await response in await stack.send(request, to: target) {
                    guard response.isSuccess else {
                        await forkResponse(round, index: index, response: response)
                        if response.isFinal { break }
                        continue
                    }
                    // A 2xx is handled in a task of its own: this one lives on while the INVITE
                    // transaction waits for the 2xx's retransmissions (64·T1, RFC 6026), and a
                    // task keeps the largest stack it ever had until it ends (connecting the
                    // call is deep: ~60 KB a call, held 32 s, was most of the server's memory).
                    Task { await self.forkResponse(round, index: index, response: response) }
                }
            } catch {
                await perform(round.engine.failed(index, status: 408, reason: "Request Timeout (\(round.forks[index].device) did not answer)"), round)
            }
        }
    }

    private func forkResponse(_ round: RingRound, index: Int, response: SIPResponse) async {
        let actions: [Ringing.Action] = switch response.statusCode {
        case 100..<200: round.engine.provisional(index, status: response.statusCode)
        case 200..<300: round.engine.answered(index)
        default: round.engine.failed(index, status: response.statusCode, reason: response.reasonPhrase, headers: Self.relayedFailureHeaders(response))
        }
        await perform(actions, round, response: response)
    }

    private func perform(_ actions: [Ringing.Action], _ round: RingRound, response: SIPResponse? = nil) async {
        for action in actions {
            switch action {
            case .invite(let index):
                sendFork(round, index: index)
            case .startTimer(let seconds):
                round.timer?.cancel()
                round.timer = after(seconds: seconds) { server in
                    Task { await server.perform(round.engine.timerFired(), round) }
                }
            case .stopTimer:
                round.timer?.cancel()
            case .cancel(let index):
                _ = await stack.cancel(round.forks[index].request, to: round.forks[index].target)
            case .release(let index):
                if let response { await hangUpLateAnswer(round.forks[index].request, response: response, target: round.forks[index].target) }
            case .relayProgress:
                if let response, let call = current(round) { await relayProgress(call, response) }
            case .connect(let index):
                guard let response else { break }
                switch round.purpose {
                case .call:
                    if let call = current(round) {
                        await connect(call, round: round, fork: index, response: response)
                    } else {
                        await hangUpLateAnswer(round.forks[index].request, response: response, target: round.forks[index].target)
                    }
                case .reach(_, let acknowledge):
                    await handOver(round, fork: index, response: response, acknowledge: acknowledge)
                }
            case .acknowledgeAgain(let index):
                if let response { await acknowledgeAgain(round, fork: index, response: response) }
            case .fail(let failure):
                switch round.purpose {
                case .call: if let call = current(round) { await ringingFailed(call, failure) }
                case .reach(let user, _):
                    resume(round, .failure(ControlError(.failed, failure.busy ? "busy" : "no_answer", "\(user) did not answer (\(failure.status))",
                                                        details: ["user": user, "status": String(failure.status)])))
                }
            case .noAnswer:
                switch round.purpose {
                case .call: if let call = current(round) { await ringingUnanswered(call) }
                case .reach(let user, _):
                    resume(round, .failure(ControlError(.failed, "no_answer", "\(user) did not answer (408)", details: ["user": user, "status": "408"])))
                }
            }
        }
    }

    /// A device reached for call control answered first: handed to whoever waits (released if
    /// nobody does any more).
    private func handOver(_ round: RingRound, fork index: Int, response: SIPResponse, acknowledge: Bool) async {
        let fork = round.forks[index]
        guard round.waiting != nil, !round.withdrawn,
              var dialog = Dialog(uacFor: fork.request, response: response, localContact: serverContactAddress(fork.target.kind)) else {
            await hangUpLateAnswer(fork.request, response: response, target: fork.target)
            if case .reach(let user, _) = round.purpose {
                // An answer without a usable dialog (no Contact or To tag) is no answer.
                resume(round, .failure(ControlError(.failed, "no_answer", "\(user) answered without a usable dialog", details: ["user": user, "status": "502"])))
            }
            return
        }
        if acknowledge { try? await stack.sendStateless(dialog.makeRequest(.ack, ackFor: fork.request.cseq?.sequence), to: fork.target) }
        round.winner = dialog
        resume(round, .success(Reached(dialog: dialog, target: fork.target, request: fork.request, response: response, device: fork.device)))
    }

    /// A 18x for the caller (a call placed through CTI has nothing to relay to: its originator
    /// already answered).
    private func relayProgress(_ call: Call, _ response: SIPResponse) async {
        guard let invite = call.invite else { return }
        var relay = SIPResponse(replyingTo: invite.request, statusCode: response.statusCode, reasonPhrase: response.reasonPhrase, toTag: call.toTag)
        relay.headers.add(.contact, serverContact(invite.origin.kind))
        if !response.body.isEmpty { relay.setBody(response.body, contentType: response.contentType ?? .sdp) }
        call.provisionalSent = true
        try? await stack.respond(relay, to: invite)
    }

    /// The answer of the device that won, again (our ACK was late or lost): ACK it again, the call
    /// goes on (§13.2.2.4). A 2xx of another dialog from the same fork (forked further behind it)
    /// is a second answer, released.
    private func acknowledgeAgain(_ round: RingRound, fork index: Int, response: SIPResponse) async {
        let fork = round.forks[index]
        switch round.purpose {
        case .call:
            guard let call = round.call, var answered = call.calleeDialog, answered.id == DialogID.forResponse(response) else {
                await hangUpLateAnswer(fork.request, response: response, target: fork.target)
                return
            }
            // Late offer: the ACK waits for the caller's, which carries the answer.
            if call.legs[.callee]?.phase == .owingACK { return }
            try? await stack.sendStateless(answered.makeRequest(.ack, ackFor: fork.request.cseq?.sequence), to: fork.target)
        case .reach(_, let acknowledge):
            // Ours to ACK again only when we ACKed it; else the ACK of whoever took it answers it.
            guard acknowledge, var winner = round.winner, winner.id == DialogID.forResponse(response) else {
                if round.winner?.id != DialogID.forResponse(response) { await hangUpLateAnswer(fork.request, response: response, target: fork.target) }
                return
            }
            try? await stack.sendStateless(winner.makeRequest(.ack, ackFor: fork.request.cseq?.sequence), to: fork.target)
        }
    }

    /// Every device failed: busy (486 or 600 from one of them) → "When I am on the phone", else
    /// the best failure to the caller.
    private func ringingFailed(_ call: Call, _ failure: Ringing.Failure) async {
        call.ringing = nil
        if failure.busy, let destination = (try? store.features(call.target))?.forwardBusy, call.hops < 5 {
            await retarget(call, to: destination, reason: "forwardBusy")
            return
        }
        if await recallReferral(call) { return }
        await advance(call, .unanswered(status: failure.status, reason: failure.reason, outcome: failure.busy ? .busy : .rejected, headers: failure.headers))
    }

    /// Nobody answered before the ring timer: "If I do not answer", else 480 to the caller.
    private func ringingUnanswered(_ call: Call) async {
        call.ringing = nil
        if await recallReferral(call) { return }
        if let destination = (try? store.features(call.target))?.forwardNoAnswer, call.hops < 5 {
            await retarget(call, to: destination, reason: "forwardNoAnswer")
        } else if call.acd == nil, hasMailbox(call.target), call.hops < 5 {
            await toVoicemail(call, greeting: .unavailable, reason: "forwardNoAnswer")
        } else {
            await advance(call, .unanswered(status: 480, reason: "Temporarily Unavailable (no answer)", outcome: .noAnswer))
        }
    }

    /// The caller cancelled the INVITE (the stack already answered the CANCEL 200 and the INVITE 487).
    func callerCancelled(_ invite: SIPRequest) async {
        guard let key = invite.callID, let call = calls[key] else { return }
        await advance(call, .callerCancelled)
    }

    /// The device of fork N answered first: its dialog becomes the callee's leg, the caller gets
    /// the 200 (or, for a call placed through CTI, the originator its ACK with the answer).
    private func connect(_ call: Call, round: RingRound, fork index: Int, response: SIPResponse) async {
        let fork = round.forks[index]
        let contact = serverContactAddress(fork.target.kind)
        let callerContact = serverContactAddress(call.invite?.origin.kind ?? .udp)
        guard let calleeDialog = Dialog(uacFor: fork.request, response: response, localContact: contact) else {
            await hangUpLateAnswer(fork.request, response: response, target: fork.target)
            call.ringing = nil
            await advance(call, .unanswered(status: 502, reason: "Bad Gateway (the answer had no usable dialog)", outcome: .rejected))
            return
        }
        // Every change to the call first, then the messages: a request that arrives on either
        // leg while they go out (a REFER crossing our ACK) finds both dialogs.
        call.ringing = nil
        await advance(call, .answered)
        call.answeredAt = Date()
        if let console = call.attendantDevices[fork.device] {
            // The console that answered the attendant's call is its callee from now on.
            call.seat(console, on: .callee, name: configuration.user(console)?.name)
            call.path.append(console)
        }
        defer { releaseAnswerWaiters(call) }
        placeLeg(call, on: .callee, dialog: calleeDialog, target: fork.target, from: response.body, to: call.offer, device: fork.device)
        call.sdpTo[.caller] = response.body
        // Late offer (RFC 3261 §13.2.1): the callee's 200 made the offer; its ACK carries the
        // caller's answer, from the caller's ACK.
        let lateOffer = call.offer.isEmpty && call.invite != nil
        var ok: SIPResponse?
        if let invite = call.invite {
            // 200 OK to the caller with the callee's SDP and who answered (connected identity).
            var answer = SIPResponse(replyingTo: invite.request, statusCode: 200, toTag: call.toTag)
            answer.headers.add(.contact, callerContact.description)
            answer.headers.add(.allow, Self.allow)
            answer.headers.add(.supported, Self.supported)
            answer.headers.add(.pAssertedIdentity, NameAddress(displayName: configuration.user(call.target)?.name,
                                                               uri: SIPURI(user: call.target, host: configuration.domain)).description)
            if !response.body.isEmpty { answer.setBody(response.body, contentType: response.contentType ?? .sdp) }
            if let callerDialog = Dialog(uasFor: invite.request, localTag: call.toTag, localContact: callerContact, confirmed: true) {
                call.callerDialog = callerDialog
                dialogs[callerDialog.id] = (call.key, .caller)
            }
            ok = answer
            if lateOffer {
                await run(legEvent(call, .caller, .answerOwed(cseq: fork.request.cseq?.sequence ?? 1)), on: .caller, of: call)
                await run(legEvent(call, .callee, .answerAwaited(timer: invite.origin.kind.isReliable)), on: .callee, of: call)
            }
            await run(legEvent(call, .caller, .answered(reliable: invite.origin.kind.isReliable)), on: .caller, of: call, answer: (answer, invite))
        }
        events.append(.callAnswered(call: call.key, caller: call.caller, callee: call.target, device: fork.device))
        await agentsInCall(call)
        if !lateOffer {
            var dialog = calleeDialog
            try? await stack.sendStateless(dialog.makeRequest(.ack, ackFor: fork.request.cseq?.sequence), to: fork.target)
        }
        guard let invite = call.invite, let ok else {
            // Placed through CTI: the originator's ACK carries the callee's answer.
            await acknowledgeOriginator(call, answer: response.body, contentType: response.contentType)
            return
        }
        try? await stack.respond(ok, to: invite)
    }

    /// RFC 3261 §15 (and §9.1: a 200 may cross a CANCEL): a 2xx nobody wants is still ACKed (with
    /// an answer refusing every stream when the 2xx made the offer), then ended with BYE. The one
    /// way the call server lets go of an unwanted answer, whatever rang the device.
    func hangUpLateAnswer(_ forkRequest: SIPRequest, response: SIPResponse, target: SIPTarget) async {
        guard var late = Dialog(uacFor: forkRequest, response: response, localContact: serverContactAddress(target.kind)) else { return }
        logger.info("a late answer is hung up", metadata: ["call": "\(forkRequest.callID ?? "")", "status": "\(response.statusCode)"])
        var ack = late.makeRequest(.ack, ackFor: forkRequest.cseq?.sequence)
        if forkRequest.body.isEmpty && !response.body.isEmpty { ack.setBody(SessionText.rejecting(response.body), contentType: .sdp) }
        try? await stack.sendStateless(ack, to: target)
        _ = await stack.send(late.makeRequest(.bye), to: target)
    }
}
