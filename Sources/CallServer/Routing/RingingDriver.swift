// Runs a call's ringing engine (Ringing.swift): sends the INVITE of each fork, feeds every
// response and the ring timer to the engine, and carries out what it decides: relay progress,
// join the winner to the call, cancel the rest, release a late answer, fail or forward.

import Foundation
import NIOCore
import SIP
import SIPCore
import SIPMessage

extension CallServer {
    /// Rings `call.forks` as a new round: responses to an earlier round's INVITEs are not the
    /// engine's any more (a 2xx among them is released).
    func ringForks(_ call: Call, seconds: Double?) async {
        call.round += 1
        let round = call.round
        call.ringing = Ringing()
        call.state = .ringing
        // Each INVITE is kept as sent (with its Via branch) before it leaves, so its CANCEL matches.
        for index in call.forks.indices {
            var request = call.forks[index].request
            request.headers.add(.contact, serverContact(call.forks[index].target.kind))
            call.forks[index].request = await stack.prepared(request, for: call.forks[index].target)
        }
        guard call.round == round else { return }
        await perform(call.ringing.start(forks: call.forks.count, seconds: seconds), call: call, round: round)
    }

    /// Stops the ringing for good (the caller cancelled, the call was cleared, deflected or is
    /// forwarded): every device still ringing gets CANCEL.
    func stopRinging(_ call: Call) async {
        let round = call.round
        call.round += 1
        await perform(call.ringing.cancel(), call: call, round: round)
    }

    private func sendFork(_ call: Call, index: Int, round: Int) {
        let request = call.forks[index].request, target = call.forks[index].target
        Task {
            do {
                for try await response in await stack.send(request, to: target) {
                    await forkResponse(call, round: round, index: index, request: request, target: target, response: response)
                    if response.isFinal && !response.isSuccess { break }
                }
            } catch {
                await forkFailed(call, round: round, index: index, status: 408, reason: "Request Timeout (\(call.forks[index].device) did not answer)")
            }
        }
    }

    private func forkResponse(_ call: Call, round: Int, index: Int, request: SIPRequest, target: SIPTarget, response: SIPResponse) async {
        guard calls[call.key] === call, call.round == round else {
            // The call was answered elsewhere, forwarded or ended while this device rang, and its
            // 200 crossed our CANCEL: the device is in a call with nobody, so ACK and hang it up.
            if response.isSuccess { await hangUpLateAnswer(request, response: response, target: target) }
            return
        }
        let actions: [Ringing.Action] = switch response.statusCode {
        case 100..<200: call.ringing.provisional(index, status: response.statusCode)
        case 200..<300: call.ringing.answered(index)
        default: call.ringing.failed(index, status: response.statusCode, reason: response.reasonPhrase, headers: Self.relayedFailureHeaders(response))
        }
        await perform(actions, call: call, round: round, response: response)
    }

    private func forkFailed(_ call: Call, round: Int, index: Int, status: Int, reason: String) async {
        guard calls[call.key] === call, call.round == round else { return }
        await perform(call.ringing.failed(index, status: status, reason: reason), call: call, round: round)
    }

    private func perform(_ actions: [Ringing.Action], call: Call, round: Int, response: SIPResponse? = nil) async {
        for action in actions {
            switch action {
            case .invite(let index):
                sendFork(call, index: index, round: round)
            case .startTimer(let seconds):
                call.noAnswer?.cancel()
                call.noAnswer = after(seconds: seconds) { server in
                    Task { await server.ringTimerFired(call, round: round) }
                }
            case .stopTimer:
                call.noAnswer?.cancel()
            case .relayProgress:
                if let response { await relayProgress(call, response) }
            case .connect(let index):
                if let response { await connect(call, fork: index, response: response) }
            case .cancel(let index):
                _ = await stack.cancel(call.forks[index].request, to: call.forks[index].target)
            case .release(let index):
                if let response { await hangUpLateAnswer(call.forks[index].request, response: response, target: call.forks[index].target) }
            case .acknowledgeAgain(let index):
                if let response { await acknowledgeAgain(call, fork: index, response: response) }
            case .fail(let failure):
                await ringingFailed(call, failure)
            case .noAnswer:
                await ringingUnanswered(call)
            }
        }
    }

    private func ringTimerFired(_ call: Call, round: Int) async {
        guard calls[call.key] === call, call.round == round else { return }
        await perform(call.ringing.timerFired(), call: call, round: round)
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
    private func acknowledgeAgain(_ call: Call, fork index: Int, response: SIPResponse) async {
        let request = call.forks[index].request, target = call.forks[index].target
        guard var answered = call.calleeDialog, answered.id == DialogID.forResponse(response) else {
            await hangUpLateAnswer(request, response: response, target: target)
            return
        }
        // Late offer: the ACK waits for the caller's, which carries the answer.
        if call.pendingACK[.caller] != nil { return }
        try? await stack.sendStateless(answered.makeRequest(.ack, ackFor: request.cseq?.sequence), to: target)
    }

    /// Every device failed: busy (486 or 600 from one of them) → "When I am on the phone", else
    /// the best failure to the caller.
    private func ringingFailed(_ call: Call, _ failure: Ringing.Failure) async {
        if failure.busy, let destination = (try? store.features(call.target))?.forwardBusy, call.hops < 5 {
            call.state = .routing
            await retarget(call, to: destination, reason: "forwardBusy")
            return
        }
        await finish(call, status: failure.status, reason: failure.reason, outcome: failure.busy ? "busy" : "rejected", headers: failure.headers)
    }

    /// Nobody answered before the ring timer: "If I do not answer", else 480 to the caller.
    private func ringingUnanswered(_ call: Call) async {
        if let destination = (try? store.features(call.target))?.forwardNoAnswer, call.hops < 5 {
            call.state = .routing
            await retarget(call, to: destination, reason: "forwardNoAnswer")
        } else {
            await finish(call, status: 480, reason: "Temporarily Unavailable (no answer)", outcome: "noAnswer")
        }
    }

    /// The caller cancelled the INVITE (the stack already answered the CANCEL 200 and the INVITE 487).
    func callerCancelled(_ invite: SIPRequest) async {
        guard let key = invite.callID, let call = calls[key], call.state == .ringing || call.state == .routing else { return }
        call.noAnswer?.cancel()
        await stopRinging(call)
        writeRecord(call, outcome: "cancelled")
        calls[key] = nil
    }

    /// The device of fork N answered first: its dialog becomes the callee's leg, the caller gets
    /// the 200 (or, for a call placed through CTI, the originator its ACK with the answer).
    private func connect(_ call: Call, fork index: Int, response: SIPResponse) async {
        let request = call.forks[index].request, target = call.forks[index].target
        let contact = serverContactAddress(target.kind)
        let callerContact = serverContactAddress(call.invite?.origin.kind ?? .udp)
        guard var calleeDialog = Dialog(uacFor: request, response: response, localContact: contact) else {
            await hangUpLateAnswer(request, response: response, target: target)
            return
        }
        // Every change to the call first, then the messages: a request that arrives on either
        // leg while they go out (a REFER crossing our ACK) finds both dialogs.
        call.state = .answered
        call.answeredAt = Date()
        // Late offer (RFC 3261 §13.2.1): the callee's 200 made the offer; its ACK carries the
        // caller's answer, from the caller's ACK.
        let lateOffer = call.offer.isEmpty && call.invite != nil
        if lateOffer {
            call.pendingACK[.caller] = request.cseq?.sequence ?? 1
            awaitConfirmation(call, .callee, reliable: call.invite?.origin.kind.isReliable ?? true)
        }
        call.calleeDialog = calleeDialog
        call.calleeTarget = target
        call.device[.callee] = call.forks[index].device
        call.sdpTo[.callee] = call.offer
        call.sdpFrom[.callee] = response.body
        call.sdpTo[.caller] = response.body
        dialogs[calleeDialog.id] = (call.key, .callee)
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
            awaitConfirmation(call, .caller, reliable: invite.origin.kind.isReliable)
            ok = answer
        }
        events.append(.callAnswered, ["call": .string(call.key), "caller": .string(call.caller), "callee": .string(call.target),
                                        "device": .string(call.forks[index].device)])
        if !lateOffer {
            try? await stack.sendStateless(calleeDialog.makeRequest(.ack, ackFor: request.cseq?.sequence), to: target)
        }
        guard let invite = call.invite, let ok else {
            // Placed through CTI: the originator's ACK carries the callee's answer.
            await acknowledgeOriginator(call, answer: response.body, contentType: response.contentType)
            return
        }
        try? await stack.respond(ok, to: invite)
        retransmitUntilACK(ok, call: call)
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
