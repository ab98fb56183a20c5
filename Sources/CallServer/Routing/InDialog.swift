// Requests inside an answered call, relayed to the other leg: re-INVITE/UPDATE (hold, resume),
// INFO (DTMF), REFER/NOTIFY, BYE; the ACK for our 2xx stops its retransmission.

import Foundation
import SIP
import SIPCore
import SIPMessage

extension CallServer {
    func handleInDialog(_ incoming: IncomingRequest, id: DialogID) async {
        let request = incoming.request
        guard let entry = dialogs[id], let call = calls[entry.call] else {
            if request.method != .ack {
                try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481), to: incoming)
            }
            return
        }
        if request.method == .ack {
            if entry.side == .caller { call.retransmit?.cancel() }
            return
        }
        // Check the CSeq against the leg it came in on.
        var verdict = Dialog.RequestVerdict.accept
        if entry.side == .caller, var dialog = call.callerDialog {
            verdict = dialog.receive(request)
            call.callerDialog = dialog
        } else if entry.side == .callee, var dialog = call.calleeDialog {
            verdict = dialog.receive(request)
            call.calleeDialog = dialog
        }
        if case .reject(let status, let reason) = verdict {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: reason), to: incoming)
            return
        }
        // The same request on the other leg.
        let otherSide: Call.Side = entry.side == .caller ? .callee : .caller
        guard var other = otherSide == .callee ? call.calleeDialog : call.callerDialog,
              let target = call.legTarget(otherSide)
        else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481), to: incoming)
            return
        }
        var relayed = other.makeRequest(request.method)
        for name in [HeaderName.event, .subscriptionState, .referTo, .referredBy, HeaderName("Reason")] {
            for value in request.headers.values(name) { relayed.headers.add(name, value) }
        }
        if !request.body.isEmpty {
            relayed.setBody(request.body, contentType: request.contentType)
            if request.contentType == .sdp || request.contentType == nil, request.method == .invite || request.method == .update {
                call.sdpFrom[entry.side] = request.body
                call.sdpTo[otherSide] = request.body
            }
        }
        if otherSide == .callee { call.calleeDialog = other } else { call.callerDialog = other }
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
        var final: SIPResponse?
        do {
            for try await response in await stack.send(relayed, to: target) where response.isFinal {
                final = response
                break
            }
        } catch {
            final = nil
        }
        // A 2xx to a relayed re-INVITE is ours to ACK.
        if let final, final.isSuccess, request.method == .invite {
            try? await stack.sendStateless(other.makeRequest(.ack, ackFor: relayed.cseq?.sequence), to: target)
        }
        let status = final?.statusCode ?? 408
        var answer = SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: final?.reasonPhrase)
        if let final, !final.body.isEmpty {
            answer.setBody(final.body, contentType: final.contentType)
            if request.method == .invite || request.method == .update {
                call.sdpFrom[otherSide] = final.body
                call.sdpTo[entry.side] = final.body
            }
        }
        if request.method == .invite || request.method == .update {
            answer.headers.add(.contact, await serverContact(incoming.origin.kind))
        }
        try? await stack.respond(answer, to: incoming)
    }

    func endAnswered(_ call: Call, outcome: String = "answered") {
        guard call.state == .answered else { return }
        call.state = .ended
        call.retransmit?.cancel()
        if let id = call.callerDialog?.id { dialogs[id] = nil }
        if let id = call.calleeDialog?.id { dialogs[id] = nil }
        writeRecord(call, outcome: outcome)
        calls[call.key] = nil
    }
}
