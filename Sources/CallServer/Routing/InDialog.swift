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
            if request.method == .bye, await serviceLegEnded(incoming) { return }
            if request.method == .bye, await endEarlyDialog(incoming) { return }
            if request.method != .ack {
                try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481), to: incoming)
            }
            return
        }
        if request.method == .ack {
            await run(legEvent(call, entry.side, .ackArrived), on: entry.side, of: call, ack: request)
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
        if await handleInConference(incoming, call: call, side: entry.side, id: id) { return }
        if let parked = call.parkedSide, entry.side == parked.other {
            // The parker's leg of a parked call: its BYE ends that leg only; anything else waits for nothing.
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: request.method == .bye ? 200 : 481), to: incoming)
            if request.method == .bye { await releaseParker(call, side: entry.side, byeFromParker: true) }
            return
        }
        if await referToPark(incoming, call: call, side: entry.side) { return }
        if request.method == .bye, call.state != .answered {
            // The originator of a call placed through CTI hangs up while its target still rings.
            await advance(call, .hungUp(by: entry.side), bye: ByeRelay(incoming: incoming))
            return
        }
        // The same request on the other leg, once that leg has its ACK.
        let otherSide = entry.side.other
        await waitUntilConfirmed(call, otherSide)
        guard !call.life.isEnded else {
            // The call ended while the request waited (the other side hung up, CTI cleared it).
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481), to: incoming)
            return
        }
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
            await advance(call, .hungUp(by: entry.side), bye: ByeRelay(incoming: incoming, relayed: relayed))
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
            _ = legEvent(call, entry.side, .referRelayed)
            noteReferral(referrer: call.party(entry.side), transferee: call.party(otherSide), referTo: request.headers[.referTo])
        }
        let final = await finalResponse(relayed, to: target)
        if let final, final.isSuccess, request.method == .invite {
            if request.body.isEmpty && !final.body.isEmpty {
                // A re-INVITE without an offer (§14.1): the other side offered in its 2xx, and the
                // sender's ACK brings the answer for it.
                _ = legEvent(call, entry.side, .answerOwed(cseq: relayed.cseq?.sequence ?? 1))
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
        if request.method == .info { await keyed(request, call: call, side: entry.side) }
        if let final, final.isSuccess, request.method == .invite || request.method == .update, !request.body.isEmpty {
            await phoneChangedHold(call, side: entry.side, offer: request.body)
        }
        if request.method == .refer { await run(legEvent(call, entry.side, .referAnswered), on: entry.side, of: call) }
    }

    /// The final response to a request sent on a leg (nil when none came: a timeout).
    func finalResponse(_ request: SIPRequest, to target: SIPTarget) async -> SIPResponse? {
        do {
            for try await response in await stack.send(request, to: target) where response.isFinal { return response }
        } catch {}
        return nil
    }

    /// RFC 3261 §15: a caller may end a call still ringing with a BYE on its early dialog (the To
    /// tag of our 18x). Answered like a CANCEL: 200 to the BYE, 487 to the INVITE, the devices
    /// ringing are cancelled. False when the BYE matches no ringing call.
    func endEarlyDialog(_ incoming: IncomingRequest) async -> Bool {
        let request = incoming.request
        guard let key = request.callID, let call = calls[key], let invite = call.invite, call.life.isUnanswered,
              request.to?.tag == call.toTag, request.from?.tag == invite.request.from?.tag else { return false }
        await advance(call, .callerHungUpEarly, bye: ByeRelay(incoming: incoming))
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
}
