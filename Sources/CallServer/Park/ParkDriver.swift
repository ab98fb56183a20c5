// Call park: a party in a call keys the park code (SIP INFO digits) or blind-transfers the other
// party to it (REFER); the other party waits in the first free slot with music, the parker hears
// the slot ("Your call is parked on seven zero one") and its leg ends. Dialing the slot from any
// phone takes the call; nobody does within the park timer, the call rings the parker again,
// marked as a recall. The ParkLot value keeps the slots; this runs the legs.

import Foundation
import MediaServices
import RTP
import SIP
import SIPCore
import SIPMessage
import Wire

extension CallServer {
    /// `parkerSide` asked to park: the other side waits in a slot; nil when it cannot (no park
    /// configured, all slots taken, a call that is not a plain connected call).
    @discardableResult
    func park(_ call: Call, parkerSide: Call.Side) async -> String? {
        guard let configuration = configuration.park, call.state == .answered, call.adHocRoom == nil, call.parkedSide == nil,
              calls[call.key] === call else { return nil }
        let parkedSide = parkerSide.other
        let parker = call.party(parkerSide)
        guard let slot = parkLot.park(call.key, parker: parker, now: now()) else { return nil }
        call.parkedSide = parkedSide
        _ = await holdRecall(call, .callEnded)  // a parked call is not a held one
        call.heldBy = []
        if call.music[parkedSide] == nil { _ = await playMusic(call, to: parkedSide) }
        call.path += ["park", slot]
        events.append(.parkChanged(slot: slot, call: call.key, parker: parker))
        logger.info("call parked", metadata: ["call": "\(call.key)", "slot": "\(slot)", "parker": "\(parker)"])
        armParkTimer(call, slot: slot, seconds: configuration.seconds)
        await announceSlot(call, side: parkerSide, slot: slot)
        return slot
    }

    private func armParkTimer(_ call: Call, slot: String, seconds: Double) {
        call.parkTimer?.cancel()
        call.parkTimer = after(seconds: seconds) { server in
            Task { await server.parkTimedOut(call, slot: slot) }
        }
    }

    /// The parker hears where the call waits; then its leg ends (when the announcement does).
    private func announceSlot(_ call: Call, side: Call.Side, slot: String) async {
        let prompts = ["park-parked-on"] + slot.map { "n\($0)" }
        guard let session = call.sdpFrom[side],
              let leg = await openServiceLeg(.announce, offer: SessionText.withDirection(session, "recvonly"), for: call.party(side),
                                             headers: [(Announcement.header, prompts.joined(separator: " "))]) else {
            await releaseParker(call, side: side)
            return
        }
        call.parkAnnouncement = leg
        serviceLegs[leg.dialog.id] = (call.key, side)
        if !(await reoffer(call, side: side, session: leg.answer, direction: "sendonly")) { await releaseParker(call, side: side) }
    }

    /// The parker's leg ends: its announcement leg closes, a REFER that asked for the park is
    /// answered (NOTIFY 200, terminated), and the leg gets BYE. The call goes on without it.
    func releaseParker(_ call: Call, side: Call.Side, byeFromParker: Bool = false) async {
        if let leg = call.parkAnnouncement {
            call.parkAnnouncement = nil
            serviceLegs[leg.dialog.id] = nil
            await closeServiceLeg(leg)
        }
        guard call.dialog(side) != nil, let target = call.legTarget(side) else { return }
        if !byeFromParker { await answerParkRefer(call, side: side, status: "200 OK") }
        guard var dialog = call.dialog(side) else { return }
        dialogs[dialog.id] = nil
        call.setDialog(side, nil)
        if !byeFromParker { _ = await stack.send(dialog.makeRequest(.bye), to: target) }
    }

    /// The REFER that asked for the park learns how it went (RFC 3515: a final NOTIFY, its
    /// subscription over), once.
    private func answerParkRefer(_ call: Call, side: Call.Side, status: String) async {
        guard let refer = call.parkRefer, var dialog = call.dialog(side), let target = call.legTarget(side) else { return }
        call.parkRefer = nil
        var notify = dialog.makeRequest(.notify)
        notify.headers.add(.event, "refer;id=\(refer)")
        notify.headers.add(.subscriptionState, "terminated;reason=noresource")
        notify.setBody(Array("SIP/2.0 \(status)\r\n".utf8), contentType: MediaType(type: "message", subtype: "sipfrag"))
        call.setDialog(side, dialog)
        _ = await finalResponse(notify, to: target)
    }

    /// The announcement service hung up its leg of a parked call: the parker's leg ends.
    func parkAnnouncementEnded(_ id: DialogID) async -> Bool {
        guard let (key, side) = serviceLegs[id], let call = calls[key], call.parkAnnouncement?.dialog.id == id else { return false }
        serviceLegs[id] = nil
        call.parkAnnouncement = nil
        await releaseParker(call, side: side)
        return true
    }

    /// A SIP INFO digit from `side`: the park code keyed parks the other side.
    func keyed(_ request: SIPRequest, call: Call, side: Call.Side) async {
        guard let code = configuration.park?.code, request.method == .info, request.contentType?.essence == "application/dtmf-relay",
              let digit = DTMFRelay(body: request.bodyText)?.signal else { return }
        let keyed = String(((call.keyed[side] ?? "") + String(digit)).suffix(8))
        call.keyed[side] = keyed
        guard keyed.hasSuffix(code) else { return }
        call.keyed[side] = ""
        await park(call, parkerSide: side)
    }

    /// A REFER to the park code: the call server parks the other party itself (202; the NOTIFY
    /// follows once the parker has heard the slot). False when it is no such REFER.
    func referToPark(_ incoming: IncomingRequest, call: Call, side: Call.Side) async -> Bool {
        let request = incoming.request
        guard request.method == .refer, let code = configuration.park?.code, let referTo = request.headers[.referTo],
              let target = Self.referTarget(referTo), (target.removingPercentEncoding ?? target) == code else { return false }
        guard call.state == .answered, call.adHocRoom == nil, call.parkedSide == nil else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 488, reasonPhrase: "This call cannot be parked"), to: incoming)
            return true
        }
        var accepted = SIPResponse(replyingTo: request, statusCode: 202)
        accepted.headers.add(.contact, serverContact(incoming.origin.kind))
        try? await stack.respond(accepted, to: incoming)
        call.parkRefer = request.cseq?.sequence
        if await park(call, parkerSide: side) == nil {
            // Every slot taken: the REFER fails, the call goes on.
            await answerParkRefer(call, side: side, status: "503 Service Unavailable")
        }
        return true
    }

    /// Someone dials a slot with a call in it: the caller takes the parked party (answered with
    /// its session; the parked party is re-offered the caller's), as a leg of the parked call.
    func retrieveParked(_ incoming: IncomingRequest, slot: String, caller: String) async -> Bool {
        let request = incoming.request
        guard let entry = parkLot.parked[slot], let call = calls[entry.call], let parkedSide = call.parkedSide else { return false }
        func refuse(_ status: Int, _ reason: String) async {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: reason, toTag: Self.newTag()), to: incoming)
        }
        guard !request.body.isEmpty else { await refuse(488, "Retrieving a parked call needs an offer in the INVITE"); return true }
        let side = parkedSide.other
        if call.dialog(side) != nil { await releaseParker(call, side: side) }
        _ = parkLot.release(slot)
        guard await reoffer(call, side: parkedSide, session: request.body, direction: "sendrecv"), let answer = call.sdpFrom[parkedSide] else {
            // The parked party did not take the new session: it waits on.
            _ = parkLot.park(call.key, parker: entry.parker, now: entry.since)
            await refuse(488, "The parked party refused the new session")
            return true
        }
        let toTag = Self.newTag()
        let contact = serverContactAddress(incoming.origin.kind)
        guard let dialog = Dialog(uasFor: request, localTag: toTag, localContact: contact, confirmed: true) else {
            await refuse(400, "INVITE without From tag or Contact")
            return true
        }
        var ok = SIPResponse(replyingTo: request, statusCode: 200, toTag: toTag)
        ok.headers.add(.contact, contact.description)
        ok.headers.add(.allow, Self.allow)
        ok.headers.add(.supported, Self.supported)
        ok.headers.add(Self.callHeader, call.key)
        ok.setBody(SessionText.withDirection(answer, "sendrecv"), contentType: .sdp)
        placeLeg(call, on: side, dialog: dialog, target: SIPTarget(kind: incoming.origin.kind, address: incoming.origin.source), from: request.body, to: ok.body, device: nil)
        call.seat(caller, on: side, name: configuration.user(caller)?.name)
        unpark(call)
        stopMusic(call)
        call.path += ["retrieved", caller]
        await run(legEvent(call, side, .answered(reliable: incoming.origin.kind.isReliable)), on: side, of: call, answer: (ok, incoming))
        try? await stack.respond(ok, to: incoming)
        events.append(.parkChanged(slot: slot, call: nil, parker: nil))
        events.append(.callTransferred(call: call.key, caller: call.caller, callee: call.target, rebridged: true))
        logger.info("parked call retrieved", metadata: ["call": "\(call.key)", "slot": "\(slot)", "by": "\(caller)"])
        return true
    }

    /// Nobody took the call within the park timer: it rings the parker, marked as a recall; if the
    /// parker does not answer either, it waits on and the timer starts again.
    func parkTimedOut(_ call: Call, slot: String) async {
        guard calls[call.key] === call, let parkedSide = call.parkedSide, parkLot.parked[slot]?.call == call.key,
              let entry = parkLot.parked[slot], let session = call.sdpFrom[parkedSide] else { return }
        let party = call.party(parkedSide)
        let mark = RecallMark(from: slot, reason: .park)
        let offer = SessionText.withDirection(session, "sendrecv")
        events.append(.callRecalled(call: call.key, party: entry.parker, from: slot, reason: .park))
        logger.info("park recall", metadata: ["call": "\(call.key)", "slot": "\(slot)", "parker": "\(entry.parker)"])
        call.parkRecall = Task {
            let result = await self.reach(entry.parker, from: party, body: offer, contentType: .sdp, seconds: self.configuration.ringTimeout, acknowledge: true,
                                          headers: [(HeaderName(RecallMark.header), mark.headerValue), (Self.callHeader, call.key)],
                                          fromDisplay: mark.displayName(party: self.configuration.user(party)?.name ?? party))
            await self.parkRecallAnswered(call, slot: slot, parker: entry.parker, offer: offer, mark: mark, result: result)
        }
    }

    private func parkRecallAnswered(_ call: Call, slot: String, parker: String, offer: [UInt8], mark: RecallMark, result: Result<Reached, ControlError>) async {
        call.parkRecall = nil
        guard calls[call.key] === call, let parkedSide = call.parkedSide, parkLot.parked[slot]?.call == call.key else {
            if case .success(let reached) = result { await hangUpLateAnswer(reached.request, response: reached.response, target: reached.target) }
            return
        }
        guard case .success(let reached) = result else {
            armParkTimer(call, slot: slot, seconds: configuration.park?.seconds ?? 180)
            return
        }
        let side = parkedSide.other
        _ = parkLot.release(slot)
        placeLeg(call, on: side, dialog: reached.dialog, target: reached.target, from: reached.response.body, to: offer, device: reached.device)
        call.seat(parker, on: side, name: configuration.user(parker)?.name)
        call.recall = mark
        unpark(call)
        _ = await reoffer(call, side: parkedSide, session: reached.response.body, direction: "sendrecv")
        stopMusic(call)
        call.path += ["recall", parker]
        events.append(.parkChanged(slot: slot, call: nil, parker: nil))
        events.append(.callTransferred(call: call.key, caller: call.caller, callee: call.target, rebridged: true))
    }

    private func unpark(_ call: Call) {
        call.parkedSide = nil
        call.parkTimer?.cancel()
        call.parkTimer = nil
        call.parkRecall?.cancel()
        call.parkRecall = nil
        if let slot = parkLot.slot(of: call.key) { _ = parkLot.release(slot) }
    }

    /// The call ended while parked: its slot is free again.
    func endPark(_ call: Call) async {
        guard let slot = parkLot.slot(of: call.key) ?? (call.parkedSide != nil ? "" : nil) else { return }
        if let leg = call.parkAnnouncement {
            call.parkAnnouncement = nil
            serviceLegs[leg.dialog.id] = nil
            await closeServiceLeg(leg)
        }
        unpark(call)
        if !slot.isEmpty { events.append(.parkChanged(slot: slot, call: nil, parker: nil)) }
    }

    /// The slots with what waits in each (CTI `GET park`, the console's lamps).
    public func parkSlots() -> [ParkSlotInfo] {
        parkLot.slots.map { slot in
            let entry = parkLot.parked[slot]
            let call = entry.flatMap { calls[$0.call] }
            return ParkSlotInfo(slot: slot, call: entry?.call, parker: entry?.parker,
                                parked: call.flatMap { c in c.parkedSide.map { c.party($0) } },
                                since: entry.map { Date(timeIntervalSince1970: $0.since) })
        }
    }
}
