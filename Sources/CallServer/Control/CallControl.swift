// Call control for CTI: make a call from a user's device (click-to-dial, RFC 3725 flow I), clear,
// deflect a ringing call, blind transfer and hold/retrieve by re-bridging the B2BUA legs with
// re-INVITEs, so phones need no special support.

import Foundation
import SIP
import SIPCore
import SIPMessage

extension CallServer {
    /// A device of a user that answered an INVITE from the server.
    struct Reached: Sendable {
        var dialog: Dialog
        var target: SIPTarget
        var request: SIPRequest
        var response: SIPResponse
        var device: String
    }

    // MARK: - Make call

    /// Rings `user`'s device(s) showing `destination`; when the user answers, calls `destination`
    /// with the session the device offered and completes it with the destination's answer.
    /// `device` names one of the user's devices to call from ("make call from another device");
    /// without it the selected device rings, else all of them.
    public func makeCall(from user: String, to destination: String, device: String? = nil) throws -> CallSnapshot {
        try makeCall(from: user, to: destination, autoAnswer: false, device: device)
    }

    /// `autoAnswer` asks the originator's device to answer by itself (a consultation call the
    /// user asked for): `Call-Info: answer-after=0` (the de facto header phones honour).
    func makeCall(from user: String, to destination: String, autoAnswer: Bool, device: String? = nil) throws -> CallSnapshot {
        guard configuration.user(user) != nil else { throw ControlError.unknownUser(user) }
        try checkTarget(destination, field: "to", notOneOf: [user])
        guard !deviceBindings(user, device: device).isEmpty else {
            if let device {
                throw ControlError(.conflict, "device_unavailable", "\(user) has no registered device \(device)", details: ["user": user, "device": device, "field": "device"])
            }
            throw ControlError(.conflict, "device_unavailable", "\(user) has no registered device to call from", details: ["user": user])
        }
        let key = "cti-\(Self.newTag())@\(configuration.domain)"
        let call = Call(key: key, invite: nil, caller: user, callerName: configuration.user(user)?.name, dialed: destination)
        calls[key] = call
        events.append(.callOriginated(call: key, caller: user, dialed: destination))
        call.originating = Task { await self.originate(call, autoAnswer: autoAnswer, device: device) }
        return snapshot(call)
    }

    func originate(_ call: Call, autoAnswer: Bool, device: String? = nil) async {
        var headers = autoAnswer ? [(HeaderName("Call-Info"), "<sip:\(configuration.domain)>;answer-after=0")] : []
        headers.append((Self.callHeader, call.key))
        let result = await reach(call.caller, from: call.dialed, body: [], contentType: nil, seconds: configuration.ringTimeout, acknowledge: false, headers: headers, device: device)
        guard calls[call.key] === call, call.state == .originating else {
            // Cleared meanwhile: a device that answered anyway is released.
            if case .success(let reached) = result { await hangUpLateAnswer(reached.request, response: reached.response, target: reached.target) }
            return
        }
        switch result {
        case .failure(let error):
            logger.info("click-to-dial: originator not reached", metadata: ["call": "\(call.key)", "why": "\(error.message)"])
            await advance(call, .originatorNotReached)
        case .success(let reached):
            guard !reached.response.body.isEmpty else {
                await hangUpLateAnswer(reached.request, response: reached.response, target: reached.target)
                await advance(call, .originatorGaveNoOffer)
                return
            }
            call.callerDialog = reached.dialog
            call.callerTarget = reached.target
            call.pendingCallerACK = reached.request.cseq?.sequence
            call.device[.caller] = reached.device
            call.offer = reached.response.body
            call.offerType = reached.response.contentType
            call.sdpFrom[.caller] = reached.response.body
            dialogs[reached.dialog.id] = (call.key, .caller)
            await advance(call, .originatorAnswered)
            await route(call)
        }
    }

    /// The originator's ACK, carrying the callee's answer.
    func acknowledgeOriginator(_ call: Call, answer: [UInt8], contentType: MediaType?) async {
        guard var dialog = call.callerDialog, let target = call.callerTarget, let sequence = call.pendingCallerACK else { return }
        var ack = dialog.makeRequest(.ack, ackFor: sequence)
        if !answer.isEmpty { ack.setBody(answer, contentType: contentType ?? .sdp) }
        call.callerDialog = dialog
        call.pendingCallerACK = nil
        try? await stack.sendStateless(ack, to: target)
    }

    /// A call placed through CTI that will not connect: the originator's device is released.
    func releaseOriginator(_ call: Call, reason: String) async {
        call.originating?.cancel()
        await refuseOriginatorOffer(call)
        guard var dialog = call.callerDialog, let target = call.callerTarget else { return }
        var bye = dialog.makeRequest(.bye)
        bye.headers.add(HeaderName("Reason"), "SIP;cause=480;text=\"\(reason.trimmingCharacters(in: .whitespaces))\"")
        dialogs[dialog.id] = nil
        call.callerDialog = dialog
        _ = await stack.send(bye, to: target)
    }

    /// The originator's 2xx, still waiting for the answer its ACK carries, is ACKed with a
    /// session refusing every stream.
    func refuseOriginatorOffer(_ call: Call) async {
        guard var dialog = call.callerDialog, let target = call.callerTarget, let sequence = call.pendingCallerACK else { return }
        var ack = dialog.makeRequest(.ack, ackFor: sequence)
        ack.setBody(SessionText.rejecting(call.offer), contentType: .sdp)
        call.callerDialog = dialog
        call.pendingCallerACK = nil
        try? await stack.sendStateless(ack, to: target)
    }

    // MARK: - Clear, deflect

    public func clear(_ id: String) async throws {
        guard let call = calls[id], call.state != .ended else { throw ControlError.noSuchCall(id) }
        await advance(call, .cleared)
    }

    /// Sends a ringing call elsewhere (the devices ringing now stop). With `party`, only the party
    /// the call rings may send it on (a user's phone redirecting its own call).
    public func deflect(_ id: String, to destination: String, party: String? = nil) async throws -> CallSnapshot {
        guard let call = calls[id], call.state != .ended else { throw ControlError.noSuchCall(id) }
        if let party, party != call.target {
            throw ControlError(.invalid, "not_a_party", "\(party) is not the party call \(id) rings; only it may redirect the call", details: ["call": id, "party": party])
        }
        guard call.life.isUnanswered else {
            throw ControlError(.conflict, "invalid_state", "only a ringing call can be deflected; call \(id) is \(snapshot(call).state)", details: ["call": id])
        }
        try checkTarget(destination, field: "to", notOneOf: [call.caller, call.target])
        await retarget(call, to: destination, reason: "deflect")
        return snapshot(call)
    }

    // MARK: - Blind transfer

    /// `party` leaves at once; the other party is connected to `destination` when it answers.
    public func transfer(_ id: String, party: String, to destination: String) async throws -> CallSnapshot {
        let (call, leaving) = try connectedCall(id, party: party)
        try checkTarget(destination, field: "to", notOneOf: [call.caller, call.target])
        let staying = leaving.other
        guard let session = call.sdpFrom[staying] else {
            throw ControlError(.conflict, "invalid_state", "the session of \(call.party(staying)) is not known yet", details: ["call": id])
        }
        await dropLeg(call, leaving)
        call.path += ["transfer", destination]
        call.heldBy = []
        stopMusic(call)
        events.append(.callTransferring(call: id, party: party, to: destination))
        call.transferring = Task { await self.completeTransfer(call, leaving: leaving, to: destination, session: session) }
        return snapshot(call)
    }

    // MARK: - Hold, retrieve

    /// Puts the call on hold on behalf of `party`: both phones are re-offered an inactive session.
    public func hold(_ id: String, party: String) async throws -> CallSnapshot {
        try await setHold(id, party: party, held: true)
    }

    public func retrieve(_ id: String, party: String) async throws -> CallSnapshot {
        try await setHold(id, party: party, held: false)
    }

    func setHold(_ id: String, party: String, held: Bool) async throws -> CallSnapshot {
        let (call, side) = try connectedCall(id, party: party)
        guard call.heldBy.contains(side) != held else {
            throw ControlError(.conflict, "invalid_state", held ? "\(party) already holds call \(id)" : "\(party) does not hold call \(id)", details: ["call": id])
        }
        guard let mine = call.sdpFrom[side], let theirs = call.sdpFrom[side.other] else {
            throw ControlError(.conflict, "invalid_state", "the sessions of call \(id) are not known yet", details: ["call": id])
        }
        // Held while another party also holds: the session stays inactive.
        let direction = held || !call.heldBy.subtracting([side]).isEmpty ? "inactive" : "sendrecv"
        if !held { stopMusic(call) }
        // The party held hears music (when nobody else holds the call), else an inactive session.
        // The party held hears music (when nobody else holds the call), else an inactive session.
        let music = held && call.heldBy.isEmpty ? await playMusic(call, to: side.other) : false
        let other = music ? true : await reoffer(call, side: side.other, session: mine, direction: direction)
        let own = await reoffer(call, side: side, session: theirs, direction: direction)
        guard other && own else {
            throw ControlError(.failed, "reinvite_failed", "a phone refused the re-INVITE for \(held ? "hold" : "retrieve")", details: ["call": id])
        }
        if held { call.heldBy.insert(side) } else { call.heldBy.remove(side) }
        events.append(held ? .callHeld(call: id, party: party) : .callRetrieved(call: id, party: party))
        await holdRecall(call, held ? .held(by: side, recallAfter: configuration.holdRecallSeconds(party)) : .retrieved(by: side))
        return snapshot(call)
    }

    /// A re-INVITE on one leg offering `session` (as the next version of what that phone was
    /// last given), ACKed when accepted.
    func reoffer(_ call: Call, side: Call.Side, session: [UInt8], direction: String? = nil) async -> Bool {
        guard var dialog = call.dialog(side), let target = call.legTarget(side) else { return false }
        var body = SessionText.continuing(session, after: call.sdpTo[side])
        if let direction { body = SessionText.withDirection(body, direction) }
        var reinvite = dialog.makeRequest(.invite)  // with the dialog's Contact
        reinvite.setBody(body, contentType: .sdp)
        call.setDialog(side, dialog)
        call.sdpTo[side] = body
        var final: SIPResponse?
        do {
            for try await response in await stack.send(reinvite, to: target) where response.isFinal {
                final = response
                break
            }
        } catch {
            return false
        }
        guard let final, final.isSuccess else { return false }
        if var dialog = call.dialog(side) {
            let ack = dialog.makeRequest(.ack, ackFor: reinvite.cseq?.sequence)
            call.setDialog(side, dialog)
            try? await stack.sendStateless(ack, to: target)
        }
        if !final.body.isEmpty { call.sdpFrom[side] = final.body }
        return true
    }

    // MARK: - Helpers

    /// A connected call of `party`'s. A call in an ad-hoc conference is the room's: hold,
    /// transfer and the like are refused on it (`inConference` lets the conference add to it).
    func connectedCall(_ id: String, party: String, inConference: Bool = false) throws -> (Call, Call.Side) {
        guard let call = calls[id], call.state != .ended else { throw ControlError.noSuchCall(id) }
        guard call.state == .answered else {
            throw ControlError(.conflict, "invalid_state", "call \(id) is \(snapshot(call).state), not connected", details: ["call": id])
        }
        guard inConference || call.adHocRoom == nil else {
            throw ControlError(.conflict, "in_conference", "call \(id) is in conference \(call.adHocRoom ?? ""): leave it by hanging up", details: ["call": id])
        }
        guard let side = call.side(of: party) else {
            throw ControlError(.invalid, "not_a_party", "\(party) is not a party to call \(id)", details: ["call": id, "party": party])
        }
        return (call, side)
    }

    func checkTarget(_ destination: String, field: String, notOneOf parties: [String]) throws {
        guard configuration.user(destination) != nil else {
            throw ControlError(.invalid, "invalid_target", "\(field): there is no extension \(destination)", details: ["field": field, "target": destination])
        }
        guard !parties.contains(destination) else {
            throw ControlError(.invalid, "invalid_target", "\(field): \(destination) is already in the call", details: ["field": field, "target": destination])
        }
    }

    /// The devices that ring for `user`: `device` when named (nothing if it is not registered),
    /// else its selected device if registered, else all.
    func deviceBindings(_ user: String, device named: String? = nil) -> [Binding] {
        let bindings = ringingExtension(user).map { registrar.lookup($0, now: now()) } ?? []
        if let named { return bindings.filter { $0.deviceName == named } }
        if let device = (try? store.features(user))?.selectedDevice {
            let selected = bindings.filter { $0.deviceName == device }
            if !selected.isEmpty { return selected }
        }
        return bindings
    }
}
