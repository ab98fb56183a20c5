// Ad-hoc conferences built from calls: a user with a connected call and a held (or consultation)
// call joins them. The call server opens an ad-hoc room on its media services and moves each other
// party's leg, and the user's own, into it with re-INVITEs (no new dial-in); the user's second
// dialog ends. Each party then talks to its own leg with the room, so one leaving ends nothing for
// the others, and a call whose parties have all left is recorded and ends.

import Foundation
import MediaServices
import SIP
import SIPCore
import SIPMessage
import Wire

extension CallServer {
    /// Joins calls `id` and `otherID` of `party` into one conference (or adds `otherID` to the
    /// conference `id` is already in).
    public func conference(_ id: String, party: String, with otherID: String) async throws -> ConferenceRoomStatus {
        let rooms = try conferenceRooms()
        let (first, firstSide) = try connectedCall(id, party: party, inConference: true)
        let (second, secondSide) = try connectedCall(otherID, party: party, inConference: true)
        guard first !== second else {
            throw ControlError(.invalid, "invalid_value", "with must be another call than \(id)", details: ["field": "with"])
        }
        guard second.adHocRoom == nil || first.adHocRoom == nil else {
            throw ControlError(.conflict, "invalid_state", "both calls are already in conferences", details: ["call": otherID])
        }
        for call in [first, second] {
            guard call.service == nil, call.acd == nil || call.acd?.connected == true else {
                throw ControlError(.conflict, "invalid_state", "call \(call.key) is with a media service, not a person", details: ["call": call.key])
            }
            guard !call.conferencing else {
                throw ControlError(.conflict, "in_progress", "a conference is being built from call \(call.key)", details: ["call": call.key])
            }
        }
        first.conferencing = true
        second.conferencing = true
        defer {
            first.conferencing = false
            second.conferencing = false
        }
        // The conference the first call is in (adding a call), else a new one.
        let (host, hostSide, guest, guestSide) = second.adHocRoom != nil ? (second, secondSide, first, firstSide) : (first, firstSide, second, secondSide)
        let opened = host.adHocRoom.flatMap { rooms[$0] } == nil
        let room = host.adHocRoom.flatMap { rooms[$0] } ?? rooms.openAdHoc(name: "Conference of \(configuration.user(party)?.name ?? party)")
        let number = room.configuration.number
        // Who moves: the host call's two sides (unless already in), and the guest call's other party.
        var moves: [(Call, Call.Side)] = []
        for side in [hostSide.other, hostSide] where host.conferenceLegs[side] == nil { moves.append((host, side)) }
        moves.append((guest, guestSide.other))
        do {
            for (call, side) in moves {
                guard call.state == .answered, call.dialog(side) != nil, let session = call.sdpFrom[side] else {
                    throw ControlError(.conflict, "invalid_state", "call \(call.key) ended or has no session to move", details: ["call": call.key])
                }
                guard let leg = await openServiceLeg(.conference, offer: SessionText.withDirection(session, "sendrecv"), for: call.party(side),
                                                     headers: [(ConferenceRoom.header, number), (HoldfastHeader.call, "\(call.key);\(side.name)")]) else {
                    throw ControlError(.failed, "media_unavailable", "the conference service did not answer", details: ["call": call.key])
                }
                guard call.state == .answered, call.dialog(side) != nil else {
                    await closeServiceLeg(leg)
                    throw ControlError(.conflict, "invalid_state", "call \(call.key) ended while it was moved", details: ["call": call.key])
                }
                call.conferenceLegs[side] = leg
                serviceLegs[leg.dialog.id] = (call.key, side)
                call.adHocRoom = number
                guard await reoffer(call, side: side, session: leg.answer, direction: "sendrecv") else {
                    call.conferenceLegs[side] = nil
                    serviceLegs[leg.dialog.id] = nil
                    await closeServiceLeg(leg)
                    throw ControlError(.failed, "reinvite_failed", "\(call.party(side)) refused the re-INVITE into the conference", details: ["call": call.key])
                }
                // Whoever held the call for this conference lets go: the room is the new far end.
                call.heldBy.remove(side.other)
                await holdRecall(call, .retrieved(by: side.other))
            }
        } catch {
            // What moved stays in the room (its parties are talking there); a call none of whose
            // sides moved is as it was, and a room opened for nothing closes.
            for call in [host, guest] where call.conferenceLegs.isEmpty { call.adHocRoom = nil }
            if opened {
                await closeIfAlone(number)
                if let empty = rooms[number] { rooms.closeIfEmpty(empty) }
            }
            throw error
        }
        stopMusic(host)
        stopMusic(guest)
        // The user's own dialog of the guest call ends: the user is in the room through the host call.
        await dropLeg(guest, guestSide)
        guest.path += ["conference", number]
        host.path += ["conference", number]
        logger.info("ad-hoc conference", metadata: ["room": "\(number)", "party": "\(party)", "calls": "\(host.key) \(guest.key)"])
        return room.status
    }

    /// A request from a side that is in an ad-hoc conference goes to its leg with the room (a
    /// hold, digits); a BYE ends that leg alone, and the call once nobody of it is left. True when
    /// handled here.
    func handleInConference(_ incoming: IncomingRequest, call: Call, side: Call.Side, id: DialogID) async -> Bool {
        guard var leg = call.conferenceLegs[side] else { return false }
        let request = incoming.request
        if request.method == .bye {
            call.conferenceLegs[side] = nil
            serviceLegs[leg.dialog.id] = nil
            dialogs[id] = nil
            call.setDialog(side, nil)
            await closeServiceLeg(leg)
            if call.conferenceLegs.isEmpty, !call.life.isEnded {
                // The last of this call's parties left the room: the call ends and is recorded
                // (its 200 once the record is durable).
                await advance(call, .hungUp(by: side), bye: ByeRelay(incoming: incoming))
                if !call.life.isEnded { try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 200), to: incoming) }
            } else {
                try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 200), to: incoming)
            }
            if let room = call.adHocRoom { await closeIfAlone(room) }
            return true
        }
        var relayed = leg.dialog.makeRequest(request.method)
        if !request.body.isEmpty { relayed.setBody(request.body, contentType: request.contentType) }
        call.conferenceLegs[side] = leg
        let final = await finalResponse(relayed, to: leg.target)
        if let final, final.isSuccess, request.method == .invite, var current = call.conferenceLegs[side]?.dialog {
            // Ours to ACK (an ACK keeps the INVITE's CSeq; the leg is read again: it may have ended).
            try? await stack.sendStateless(current.makeRequest(.ack, ackFor: relayed.cseq?.sequence), to: leg.target)
        }
        var answer = SIPResponse(replyingTo: request, statusCode: final?.statusCode ?? 408, reasonPhrase: final?.reasonPhrase)
        if let final, !final.body.isEmpty { answer.setBody(final.body, contentType: final.contentType) }
        if request.method == .invite || request.method == .update {
            if !request.body.isEmpty { call.sdpFrom[side] = request.body }
            answer.headers.add(.contact, serverContact(incoming.origin.kind))
            answer.headers.add(.supported, Self.supported)
        }
        try? await stack.respond(answer, to: incoming)
        return true
    }

    /// An ad-hoc conference down to one party ends: nobody is left to talk to, so its call is
    /// cleared (BYE, recorded) rather than left in an empty room.
    func closeIfAlone(_ room: String) async {
        let members = calls.values.filter { $0.adHocRoom == room && $0.state != .ended && !$0.conferenceLegs.isEmpty }
        guard members.reduce(0, { $0 + $1.conferenceLegs.count }) == 1, let last = members.first else { return }
        logger.info("ad-hoc conference down to one party: ended", metadata: ["room": "\(room)", "call": "\(last.key)"])
        await advance(last, .cleared)
    }

    /// The call ends (cleared, or its last party left): its legs with the room end too, and a
    /// conference it leaves with one party ends.
    func leaveConference(_ call: Call) {
        let legs = Array(call.conferenceLegs.values)
        call.conferenceLegs = [:]
        for leg in legs { serviceLegs[leg.dialog.id] = nil }
        guard !legs.isEmpty else { return }
        let room = call.adHocRoom
        Task {
            for leg in legs { await self.closeServiceLeg(leg) }
            if let room { await self.closeIfAlone(room) }
        }
    }

    /// The media services ended a party's leg with the room (the party's RTP stopped, CTI took it
    /// out, the room refused it): the party is hung up too, as if it had left. True when the BYE
    /// was for such a leg.
    func serviceLegEnded(_ incoming: IncomingRequest) async -> Bool {
        let request = incoming.request
        guard request.method == .bye, let id = DialogID.forIncoming(request), serviceLegs[id] != nil else { return false }
        if await parkAnnouncementEnded(id) {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 200), to: incoming)
            return true
        }
        guard let (key, side) = serviceLegs.removeValue(forKey: id) else { return false }
        try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 200), to: incoming)
        guard let call = calls[key], call.conferenceLegs[side]?.dialog.id == id else { return true }
        call.conferenceLegs[side] = nil
        logger.info("conference leg ended by the media services", metadata: ["call": "\(key)", "side": "\(side.name)"])
        await dropLeg(call, side)
        if call.conferenceLegs.isEmpty, !call.life.isEnded { await advance(call, .cleared) }
        if let room = call.adHocRoom { await closeIfAlone(room) }
        return true
    }
}
