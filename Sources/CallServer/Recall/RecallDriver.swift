// Runs the recall machines (Recall.swift): a blind transfer's target ringing for the recall time
// and the call coming back to the transferrer; a held call ringing its holder back; a phone's own
// blind transfer (REFER) coming back to the phone that sent it. All of it is the call server's,
// so it works the same with the collaboration server down.

import Foundation
import NIOCore
import SIP
import SIPCore
import SIPMessage
import Wire

extension CallServer {
    // MARK: - Blind transfer through CTI

    /// The party on `leaving` has gone; the one who stays hears music while `destination` rings,
    /// then while the transferrer is rung back if it does not answer.
    func completeTransfer(_ call: Call, leaving: Call.Side, to destination: String, session: [UInt8]) async {
        let staying = leaving.other
        // The party who stays hears music while the destination rings (not the silence of a
        // party gone); the destination is offered the party's own session, captured before.
        _ = await playMusic(call, to: staying)
        var recall = TransferRecall(transferrer: call.party(leaving), target: destination,
                                    recallSeconds: configuration.transferRecallSeconds, ringSeconds: configuration.ringTimeout)
        var actions = recall.handle(.start)
        var reached: Reached?
        while !actions.isEmpty {
            let action = actions.removeFirst()
            guard calls[call.key] === call, call.state == .answered, !Task.isCancelled else {
                if let reached { await hangUpLateAnswer(reached.request, response: reached.response, target: reached.target) }
                _ = recall.handle(.callEnded)
                stopMusic(call)
                return
            }
            switch action {
            case .ringTarget(let seconds):
                switch await reach(destination, from: call.party(staying), body: session, contentType: .sdp, seconds: seconds, acknowledge: true) {
                case .success(let answered):
                    reached = answered
                    actions += recall.handle(.targetAnswered)
                case .failure(let error):
                    actions += recall.handle(.targetUnanswered(reason: error.message))
                }
            case .ringTransferrer(let mark, let seconds):
                let party = call.party(staying)
                let display = mark.displayName(party: configuration.user(party)?.name ?? party)
                switch await reach(recall.transferrer, from: party, body: session, contentType: .sdp, seconds: seconds, acknowledge: true,
                                   headers: [(HeaderName(RecallMark.header), mark.headerValue), (Self.callHeader, call.key)], fromDisplay: display) {
                case .success(let answered):
                    reached = answered
                    actions += recall.handle(.transferrerAnswered)
                case .failure(let error):
                    actions += recall.handle(.transferrerUnanswered(reason: error.message))
                }
            case .reportUnanswered(let reason, let recalled):
                events.append(.callTransferFailed(call: call.key, to: destination, reason: reason))
                if recalled {
                    call.recall = recall.mark
                    call.path += ["recall", recall.transferrer]
                    events.append(.callRecalled(call: call.key, party: recall.transferrer, from: destination, reason: .transfer))
                    logger.info("transfer recall", metadata: ["call": "\(call.key)", "to": "\(recall.transferrer)", "from": "\(destination)"])
                }
            case .connect(let party, let mark):
                guard let answered = reached else { break }
                reached = nil
                call.recall = mark
                call.seat(party, on: leaving, name: configuration.user(party)?.name)
                placeLeg(call, on: leaving, dialog: answered.dialog, target: answered.target, from: answered.response.body, to: session, device: answered.device)
                // Re-bridge: the staying party gets the new party's session, and the music stops.
                let rebridged = await reoffer(call, side: staying, session: answered.response.body, direction: "sendrecv")
                stopMusic(call)
                events.append(.callTransferred(call: call.key, caller: call.caller, callee: call.target, rebridged: rebridged))
            case .release:
                await advance(call, .transferFailed(staying: staying))
            case .stopRinging:
                break
            }
        }
        call.transferring = nil
    }

    // MARK: - Hold recall

    /// Gives `event` to the call's hold recall and runs what it returns.
    func holdRecall(_ call: Call, _ event: HoldRecall.Event) async {
        for action in call.holdRecall.handle(event) {
            switch action {
            case .startTimer(let seconds):
                call.holdRecallTimer?.cancel()
                call.holdRecallTimer = after(seconds: seconds) { server in
                    Task { await server.holdRecall(call, .timerFired) }
                }
            case .cancelTimer:
                call.holdRecallTimer?.cancel()
                call.holdRecallTimer = nil
            case .ringHolder(let holder):
                // A call in a conference has no holder any more: the room is its far end.
                guard calls[call.key] === call, call.state == .answered, call.adHocRoom == nil, !call.conferencing else {
                    _ = call.holdRecall.handle(.callEnded)
                    break
                }
                call.holdRecallRinging = Task { await self.ringHolderBack(call, holder: holder) }
            case .stopRinging:
                call.holdRecallRinging?.cancel()
                call.holdRecallRinging = nil
            case .takeBack:
                break  // done by ringHolderBack, which answered
            }
        }
    }

    /// The holder's devices ring with the held party; answering one takes the held party back on
    /// its new dialog (the held one ends).
    private func ringHolderBack(_ call: Call, holder: Call.Side) async {
        let held = holder.other
        let party = call.party(held), holderUser = call.party(holder)
        guard let session = call.sdpFrom[held] else { return }
        let mark = RecallMark(from: holderUser, reason: .hold)
        let offer = SessionText.withDirection(session, "sendrecv")
        events.append(.callRecalled(call: call.key, party: holderUser, from: holderUser, reason: .hold))
        logger.info("hold recall", metadata: ["call": "\(call.key)", "holder": "\(holderUser)"])
        let result = await reach(holderUser, from: party, body: offer, contentType: .sdp, seconds: configuration.ringTimeout, acknowledge: true,
                                 headers: [(HeaderName(RecallMark.header), mark.headerValue), (Self.callHeader, call.key)],
                                 fromDisplay: mark.displayName(party: configuration.user(party)?.name ?? party))
        call.holdRecallRinging = nil
        guard calls[call.key] === call, call.state == .answered, call.holdRecall.phase == .ringing(holder: holder), call.party(holder) == holderUser else {
            if case .success(let reached) = result { await hangUpLateAnswer(reached.request, response: reached.response, target: reached.target) }
            return
        }
        guard case .success(let reached) = result else {
            await holdRecall(call, .recallUnanswered)
            return
        }
        await holdRecall(call, .recallAnswered)
        // The held dialog ends; the new one is the holder's leg, and the held party hears it.
        await dropLeg(call, holder)
        placeLeg(call, on: holder, dialog: reached.dialog, target: reached.target, from: reached.response.body, to: offer, device: reached.device)
        call.recall = mark
        call.heldBy = []
        _ = await reoffer(call, side: held, session: reached.response.body, direction: "sendrecv")
        stopMusic(call)
        events.append(.callRetrieved(call: call.key, party: holderUser))
    }

    /// A re-INVITE or UPDATE a phone sent on its own (not through CTI), relayed and accepted: a
    /// sendonly or inactive offer holds the call, a sendrecv one resumes it.
    func phoneChangedHold(_ call: Call, side: Call.Side, offer: [UInt8]) async {
        guard call.adHocRoom == nil, call.music.isEmpty else { return }
        switch SessionText.direction(offer) {
        case "sendonly"?, "inactive"?:
            await holdRecall(call, .held(by: side, recallAfter: configuration.holdRecallSeconds(call.party(side))))
        default:
            await holdRecall(call, .retrieved(by: side))
        }
    }

    /// The call ended: nothing of a transfer or a recall may ring on for it.
    func endRecalls(_ call: Call) async {
        call.transferring?.cancel()
        call.transferring = nil
        await holdRecall(call, .callEnded)
    }

    // MARK: - A phone's own blind transfer (REFER)

    /// A REFER from `referrer` relayed to `transferee`: the INVITE the transferee sends on to
    /// `target` within a minute is that transfer's, and comes back to `referrer` unanswered.
    func noteReferral(referrer: String, transferee: String, referTo: String?) {
        guard configuration.transferRecallSeconds != nil, let referTo, let target = Self.referTarget(referTo),
              configuration.user(referrer) != nil else { return }
        let now = now()
        referrals.removeAll { now - $0.at > 60 }
        if referrals.count >= 1000 { referrals.removeFirst() }
        referrals.append(Referral(referrer: referrer, transferee: transferee, target: target, at: now))
    }

    /// The transferrer a new call from `caller` to `dialed` goes back to, if it is a referral's.
    func takeReferral(caller: String, dialed: String) -> String? {
        let now = now()
        guard let index = referrals.firstIndex(where: { $0.transferee == caller && $0.target == dialed && now - $0.at <= 60 }) else { return nil }
        return referrals.remove(at: index).referrer
    }

    /// The user part of a Refer-To (`<sip:2003@host>` or `sip:2003@host;…`), without Replaces:
    /// an attended transfer does not ring and does not recall.
    static func referTarget(_ referTo: String) -> String? {
        guard !referTo.lowercased().contains("replaces"), let address = (try? NameAddress.parseList(referTo))?.first, case .sip(let uri) = address.uri else { return nil }
        return uri.user
    }

    /// Whether an unanswered call goes back to the transferrer of a phone's blind transfer:
    /// marks it as a recall and rings the transferrer (true), or not (false).
    func recallReferral(_ call: Call) async -> Bool {
        guard let referrer = call.recallTo, call.recall == nil, call.hops < 5, !deviceBindings(referrer).isEmpty else { return false }
        call.recall = RecallMark(from: call.target, reason: .transfer)
        events.append(.callRecalled(call: call.key, party: referrer, from: call.target, reason: .transfer))
        logger.info("transfer recall", metadata: ["call": "\(call.key)", "to": "\(referrer)", "from": "\(call.target)"])
        await retarget(call, to: referrer, reason: "recall")
        return true
    }
}

/// A REFER the call server relayed, remembered for a minute (at most a thousand).
struct Referral: Sendable {
    var referrer: String
    var transferee: String
    var target: String
    var at: Double
}
