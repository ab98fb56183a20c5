// Requests inside a call, relayed to the other leg: re-INVITE/UPDATE (hold, resume), INFO (DTMF),
// REFER/NOTIFY, BYE; the ACK for our 2xx stops its retransmission and carries an answer on when
// the other leg's 2xx made the offer. A BYE on the early dialog of a ringing call ends it.

import Foundation
import SIP
import SIPCore
import SIPMessage

extension CallServer {
    func handleInDialog(_ incoming: IncomingRequest, id: DialogID) async {
        let request = incoming.request
        guard let entry = dialogs[id], let call = calls[entry.call] else {
            if request.method == .bye, await endEarlyDialog(incoming) { return }
            if request.method != .ack {
                try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481), to: incoming)
            }
            return
        }
        if request.method == .ack {
            if entry.side == call.retransmitting { call.retransmit?.cancel() }
            legConfirmed(call, entry.side)
            await relayAnswer(call, ack: request, from: entry.side)
            return
        }
        // Check the CSeq against the leg it came in on.
        var verdict = Dialog.RequestVerdict.accept
        if var dialog = call.dialog(entry.side) {
            verdict = dialog.receive(request)
            call.setDialog(entry.side, dialog)
        }
        if case .reject(let status, let reason) = verdict {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: reason), to: incoming)
            return
        }
        guard let hops = await forwardedHops(incoming) else { return }
        // The same request on the other leg, once that leg has its ACK.
        let otherSide = entry.side.other
        await waitUntilConfirmed(call, otherSide)
        guard var other = call.dialog(otherSide), let target = call.legTarget(otherSide) else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481), to: incoming)
            return
        }
        var relayed = other.makeRequest(request.method)
        relayed.headers.set(.maxForwards, String(hops))
        for name in [HeaderName.event, .subscriptionState, .referTo, .referredBy, .reason] {
            for value in request.headers.values(name) { relayed.headers.add(name, value) }
        }
        if !request.body.isEmpty {
            relayed.setBody(request.body, contentType: request.contentType)
            if request.contentType == .sdp || request.contentType == nil, request.method == .invite || request.method == .update {
                call.sdpFrom[entry.side] = request.body
                call.sdpTo[otherSide] = request.body
            }
        }
        call.setDialog(otherSide, other)
        if request.method == .bye {
            // The BYE ends the call whatever the other side answers: 200 once the CDR is stored,
            // and the BYE goes on without its sender waiting for the other leg (whose answer, if
            // lost, would otherwise hold this one back until the relay timed out).
            endAnswered(call)
            await store.durable()
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 200), to: incoming)
            _ = await stack.send(relayed, to: target)
            return
        }
        if request.method == .notify {
            await waitForReferAnswers(call, to: otherSide)
            if let event = request.headers[.event] {
                relayed.headers.set(.event, Self.referEvent(event, mappedBy: call.referIDs[entry.side] ?? [:]))
            }
        }
        if request.method == .refer, let theirs = relayed.cseq?.sequence, let ours = request.cseq?.sequence {
            call.referIDs[otherSide, default: [:]][theirs] = ours
            call.refersInFlight[entry.side, default: 0] += 1
        }
        let final = await finalResponse(relayed, to: target)
        if let final, final.isSuccess, request.method == .invite {
            if request.body.isEmpty && !final.body.isEmpty {
                // A re-INVITE without an offer (§14.1): the other side offered in its 2xx, and the
                // sender's ACK brings the answer for it.
                call.pendingACK[entry.side] = relayed.cseq?.sequence ?? 1
            } else if var current = call.dialog(otherSide) {
                // A 2xx to a relayed re-INVITE is ours to ACK.
                try? await stack.sendStateless(current.makeRequest(.ack, ackFor: relayed.cseq?.sequence), to: target)
                call.setDialog(otherSide, current)
            }
        }
        let status = final?.statusCode ?? 408
        var answer = SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: final?.reasonPhrase)
        if let final {
            for header in Self.relayedFailureHeaders(final) where !final.isSuccess { answer.headers.add(header.name, header.value) }
            if !final.body.isEmpty {
                answer.setBody(final.body, contentType: final.contentType)
                if request.method == .invite || request.method == .update {
                    call.sdpFrom[otherSide] = final.body
                    call.sdpTo[entry.side] = final.body
                }
            }
        }
        if request.method == .invite || request.method == .update {
            answer.headers.add(.contact, serverContact(incoming.origin.kind))
            answer.headers.add(.supported, Self.supported)
        }
        try? await stack.respond(answer, to: incoming)
        if request.method == .refer { referAnswered(call, from: entry.side) }
    }

    /// The final response to a request sent on a leg (nil when none came: a timeout).
    func finalResponse(_ request: SIPRequest, to target: SIPTarget) async -> SIPResponse? {
        do {
            for try await response in await stack.send(request, to: target) where response.isFinal { return response }
        } catch {}
        return nil
    }

    /// An ACK from `side` that completes an offer the other leg made in its 2xx: that leg gets its
    /// ACK now, with the answer.
    func relayAnswer(_ call: Call, ack: SIPRequest, from side: Call.Side) async {
        guard let sequence = call.pendingACK.removeValue(forKey: side) else { return }
        let otherSide = side.other
        guard var other = call.dialog(otherSide), let target = call.legTarget(otherSide) else { return }
        var relayed = other.makeRequest(.ack, ackFor: sequence)
        if !ack.body.isEmpty {
            relayed.setBody(ack.body, contentType: ack.contentType ?? .sdp)
            call.sdpFrom[side] = ack.body
            call.sdpTo[otherSide] = ack.body
            if call.offer.isEmpty { call.offer = ack.body }
        }
        call.setDialog(otherSide, other)
        try? await stack.sendStateless(relayed, to: target)
        legConfirmed(call, otherSide)
    }

    /// RFC 3261 §15: a caller may end a call still ringing with a BYE on its early dialog (the To
    /// tag of our 18x). Answered like a CANCEL: 200 to the BYE, 487 to the INVITE, the devices
    /// ringing are cancelled. False when the BYE matches no ringing call.
    func endEarlyDialog(_ incoming: IncomingRequest) async -> Bool {
        let request = incoming.request
        guard let key = request.callID, let call = calls[key], let invite = call.invite, call.state == .ringing || call.state == .routing,
              request.to?.tag == call.toTag, request.from?.tag == invite.request.from?.tag else { return false }
        call.state = .ended
        await stopRinging(call)
        writeRecord(call, outcome: "cancelled")
        calls[key] = nil
        await store.durable()
        try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 200), to: incoming)
        try? await stack.respond(SIPResponse(replyingTo: invite.request, statusCode: 487, reasonPhrase: "Request Terminated (BYE)", toTag: call.toTag), to: invite)
        logger.info("ringing call ended by BYE on its early dialog", metadata: ["call-id": "\(key)"])
        return true
    }

    /// The Event header of a relayed NOTIFY, naming the REFER as its receiver sent it.
    static func referEvent(_ event: String, mappedBy ids: [UInt32: UInt32]) -> String {
        let parts = event.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "refer" else { return event }
        return parts.map { part in
            guard part.lowercased().hasPrefix("id="), let id = UInt32(part.dropFirst(3)), let mapped = ids[id] else { return part }
            return "id=\(mapped)"
        }.joined(separator: ";")
    }

    func waitForReferAnswers(_ call: Call, to side: Call.Side) async {
        guard (call.refersInFlight[side] ?? 0) > 0 else { return }
        await withCheckedContinuation { call.afterRefer[side, default: []].append($0) }
    }

    func referAnswered(_ call: Call, from side: Call.Side) {
        call.refersInFlight[side, default: 1] -= 1
        guard call.refersInFlight[side] == 0 else { return }
        for waiting in call.afterRefer.removeValue(forKey: side) ?? [] { waiting.resume() }
    }

    /// `side` sent (or was sent) a 2xx whose ACK has not come: requests for it wait. Not for ever:
    /// after 64·T1 they go anyway (§13.3.1.4: the UAS gives up on the ACK then too). Over UDP the
    /// 2xx's retransmission ends the wait when it gives up; over TCP a timer of its own does.
    func awaitConfirmation(_ call: Call, _ side: Call.Side, reliable: Bool) {
        call.unconfirmed.insert(side)
        guard reliable else { return }
        call.confirmationTimers[side]?.cancel()
        call.confirmationTimers[side] = after(seconds: 32) { server in server.legConfirmed(call, side) }
    }

    func legConfirmed(_ call: Call, _ side: Call.Side) {
        guard call.unconfirmed.remove(side) != nil else { return }
        call.confirmationTimers.removeValue(forKey: side)?.cancel()
        for waiting in call.afterConfirmed.removeValue(forKey: side) ?? [] { waiting.resume() }
    }

    func waitUntilConfirmed(_ call: Call, _ side: Call.Side) async {
        guard call.unconfirmed.contains(side) else { return }
        await withCheckedContinuation { call.afterConfirmed[side, default: []].append($0) }
    }

    /// A leg joins `call` on `side` (moved from another call, or new): its dialog is the call's
    /// from now on, with the sessions each end last sent and was given.
    func placeLeg(_ call: Call, on side: Call.Side, dialog: Dialog, target: SIPTarget, from: [UInt8]?, to: [UInt8]?, device: String?) {
        dialogs[dialog.id] = (call.key, side)
        call.setDialog(side, dialog)
        call.setLegTarget(side, target)
        call.sdpFrom[side] = from
        call.sdpTo[side] = to
        call.device[side] = device
    }

    func endAnswered(_ call: Call, outcome: String = "answered") {
        guard call.state == .answered else { return }
        call.state = .ended
        call.retransmit?.cancel()
        if let id = call.callerDialog?.id { dialogs[id] = nil }
        if let id = call.calleeDialog?.id { dialogs[id] = nil }
        for side in [Call.Side.caller, .callee] {
            call.refersInFlight[side] = 0
            referAnswered(call, from: side)
            legConfirmed(call, side)
        }
        stopMusic(call)
        writeRecord(call, outcome: outcome)
        calls[call.key] = nil
    }
}
