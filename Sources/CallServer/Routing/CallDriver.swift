// Runs what a call's value machines decide: the call's life (CallLife.swift) and its legs'
// (Leg.swift). The machines say what to do; this is where it is done, with the stack, the store,
// the call table and the event loop's timers.

import Foundation
import NIOCore
import SIP
import SIPCore
import SIPMessage
import Wire

extension CallServer {
    /// The BYE that ends a call, to answer once the call's record is durable, and its copy for
    /// the other leg (when there is one).
    struct ByeRelay {
        var incoming: IncomingRequest
        var relayed: SIPRequest?
    }

    /// Gives `event` to the call's life and runs the actions it returns, in order.
    func advance(_ call: Call, _ event: CallLife.Event, bye: ByeRelay? = nil) async {
        let actions = call.life.handle(event)
        if actions.isEmpty, let bye, call.life.isEnded {
            // A BYE crossing the call's own end (a CTI clear, a failed transfer): the dialog is gone.
            try? await stack.respond(SIPResponse(replyingTo: bye.incoming.request, statusCode: 481), to: bye.incoming)
            return
        }
        for action in actions {
            switch action {
            case .stopRinging:
                await stopRinging(call)
            case .stopOriginating:
                call.originating?.cancel()
            case .answerCaller(let status, let reason, let headers):
                guard let invite = call.invite else { break }
                var response = SIPResponse(replyingTo: invite.request, statusCode: status, reasonPhrase: reason, toTag: call.toTag)
                for header in headers { response.headers.add(header.name, header.value) }
                try? await stack.respond(response, to: invite)
            case .releaseOriginator(let reason):
                await releaseOriginator(call, reason: reason)
            case .refuseOriginatorOffer:
                await refuseOriginatorOffer(call)
            case .answerBye:
                if let bye { try? await stack.respond(SIPResponse(replyingTo: bye.incoming.request, statusCode: 200), to: bye.incoming) }
            case .bye(let side):
                guard let target = call.legTarget(side) else { break }
                if let relayed = bye?.relayed {
                    _ = await stack.send(relayed, to: target)
                } else if var dialog = call.dialog(side) {
                    let request = dialog.makeRequest(.bye)
                    call.setDialog(side, dialog)
                    _ = await stack.send(request, to: target)
                }
            case .closeLegs:
                for side in [Call.Side.caller, .callee] {
                    if let id = call.dialog(side)?.id, dialogs[id]?.call == call.key { dialogs[id] = nil }
                    await run(legEvent(call, side, .ended), on: side, of: call)
                }
            case .stopMusic:
                stopMusic(call)
                leaveConference(call)
            case .record(let outcome):
                writeRecord(call, outcome: outcome)
            case .durable:
                if !(await store.durable()) {
                    logger.error("the call's record could not be stored", metadata: ["call": "\(call.key)"])
                }
            case .forget:
                if calls[call.key] === call { calls[call.key] = nil }
                await endRecalls(call)
                await endPark(call)
                releaseAnswerWaiters(call)
                await agentsLeftCall(call)
                if let acd = call.acd {
                    // The contact center learns the caller left the queue, or the ACD call ended.
                    call.acd = nil
                    acdOffers.removeValue(forKey: call.key)?.cancel()
                    try? await self.acd(acd.connected ? .acdCallEnded(call: call.key, now: now()) : .callerLeft(call: call.key, now: now()))
                }
            }
        }
    }

    /// Gives `event` to the leg on `side`.
    func legEvent(_ call: Call, _ side: Call.Side, _ event: Leg.Event) -> [Leg.Action] {
        call.legs[side, default: Leg()].handle(event)
    }

    /// Runs a leg's actions. `answer`: the 2xx just sent on it (and the INVITE it answers), for
    /// its retransmission; `ack`: the ACK that came on it, whose body goes on to the other leg.
    func run(_ actions: [Leg.Action], on side: Call.Side, of call: Call, answer: (response: SIPResponse, invite: IncomingRequest)? = nil,
             ack: SIPRequest? = nil) async {
        for action in actions {
            switch action {
            case .retransmitAnswer:
                if let answer { retransmitAnswer(answer.response, to: answer.invite, call: call, side: side) }
            case .startACKTimer:
                call.ackTimers[side] = after(seconds: 32) { server in
                    Task { await server.run(server.legEvent(call, side, .ackTimedOut), on: side, of: call) }
                }
            case .stopACKTimers:
                call.ackTimers.removeValue(forKey: side)?.cancel()
            case .releaseRequests:
                for waiting in call.heldRequests.removeValue(forKey: side) ?? [] { waiting.resume() }
            case .releaseNotifies:
                for waiting in call.heldNotifies.removeValue(forKey: side) ?? [] { waiting.resume() }
            case .acknowledgeOther(let cseq):
                await relayAnswer(call, to: side.other, cseq: cseq, from: side, ack: ack)
                await run(legEvent(call, side.other, .acknowledged), on: side.other, of: call)
            case .abandonOther:
                await run(legEvent(call, side.other, .ackTimedOut), on: side.other, of: call)
            }
        }
    }

    /// §13.3.1.4: the 2xx again at T1, 2·T1, … (at most T2 apart) until the ACK stops it; after
    /// 64·T1 the leg gives up on the ACK.
    private func retransmitAnswer(_ response: SIPResponse, to invite: IncomingRequest, call: Call, side: Call.Side,
                                  interval: Double = 0.5, waited: Double = 0) {
        call.ackTimers[side] = after(seconds: interval) { server in
            guard server.calls[call.key] === call else { return }
            guard waited + interval < 32 else {
                Task { await server.run(server.legEvent(call, side, .ackTimedOut), on: side, of: call) }
                return
            }
            let stack = server.stack
            Task { try? await stack.retransmit(response, to: invite) }
            server.retransmitAnswer(response, to: invite, call: call, side: side, interval: min(interval * 2, 4), waited: waited + interval)
        }
    }

    /// The ACK owed to the leg on `side` for its 2xx with `cseq`, carrying the answer that came
    /// in the other leg's ACK.
    private func relayAnswer(_ call: Call, to side: Call.Side, cseq: UInt32, from other: Call.Side, ack: SIPRequest?) async {
        guard var dialog = call.dialog(side), let target = call.legTarget(side) else { return }
        var relayed = dialog.makeRequest(.ack, ackFor: cseq)
        if let ack, !ack.body.isEmpty {
            relayed.setBody(ack.body, contentType: ack.contentType ?? .sdp)
            call.sdpFrom[other] = ack.body
            call.sdpTo[side] = ack.body
            if call.offer.isEmpty { call.offer = ack.body }
        }
        call.setDialog(side, dialog)
        try? await stack.sendStateless(relayed, to: target)
    }

    /// Waits while the leg on `side` holds requests back (its ACK has not come).
    func waitUntilConfirmed(_ call: Call, _ side: Call.Side) async {
        guard call.legs[side]?.holdsRequests == true else { return }
        await withCheckedContinuation { call.heldRequests[side, default: []].append($0) }
    }

    /// Waits while the leg on `side` has REFERs unanswered (a NOTIFY for it goes after the 202).
    func waitForReferAnswers(_ call: Call, to side: Call.Side) async {
        guard call.legs[side]?.holdsNotifies == true else { return }
        await withCheckedContinuation { call.heldNotifies[side, default: []].append($0) }
    }

    /// The leg on `side` leaves the call (a transfer, a queue's music giving way): its dialog is
    /// forgotten and ended with BYE.
    func dropLeg(_ call: Call, _ side: Call.Side) async {
        guard var dialog = call.dialog(side), let target = call.legTarget(side) else { return }
        let bye = dialog.makeRequest(.bye)
        dialogs[dialog.id] = nil
        call.setDialog(side, nil)
        _ = await stack.send(bye, to: target)
    }

    /// A leg joins `call` on `side` (moved from another call, or new): its dialog is the call's
    /// from now on, with the sessions each end last sent and was given.
    func placeLeg(_ call: Call, on side: Call.Side, dialog: Dialog, target: SIPTarget, from: [UInt8]?, to: [UInt8]?, device: String?) {
        dialogs[dialog.id] = (call.key, side)
        call.setDialog(side, dialog)
        call.setLegTarget(side, target)
        // What waited on the leg that leaves goes on (its 2xx is not retransmitted any more).
        call.ackTimers.removeValue(forKey: side)?.cancel()
        for waiting in call.heldRequests.removeValue(forKey: side) ?? [] { waiting.resume() }
        for waiting in call.heldNotifies.removeValue(forKey: side) ?? [] { waiting.resume() }
        call.legs[side] = Leg()
        call.sdpFrom[side] = from
        call.sdpTo[side] = to
        call.device[side] = device
    }

    func writeRecord(_ call: Call, outcome: CallOutcome) {
        let record = CallRecord(callID: call.key, caller: call.caller, callerName: call.callerName, dialed: call.dialed, callee: call.target,
                                startedAt: call.startedAt, answeredAt: call.answeredAt, endedAt: Date(), outcome: outcome.rawValue, path: call.path)
        let cdr = store.append(record).sequence
        events.append(.callEnded(call: call.key, caller: call.caller, callee: call.target, outcome: outcome.rawValue, cdr: cdr))
        // Once this call is gone from the table, someone may be free for a callback.
        if !callbacks.isEmpty { Task { self.serveCallbacks() } }
    }
}
