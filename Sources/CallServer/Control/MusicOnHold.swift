// Legs the call server opens with its own media services, and music on hold: a party held
// through the server hears the music service instead of silence until it is retrieved.

import Foundation
import MediaServices
import SIP
import SIPCore
import SIPMessage

/// A dialog between the call server and one of its media services.
struct ServiceLeg: Sendable {
    var dialog: Dialog
    var target: SIPTarget
    /// The service's answer: the session the party is re-offered.
    var answer: [UInt8]
}

extension CallServer {
    /// Opens a leg to `service` offering `session` (a party's own SDP, so the service sends to it).
    func openServiceLeg(_ service: MediaService, offer session: [UInt8], for party: String, headers: [(String, String)] = []) async -> ServiceLeg? {
        var invite = makeInvite(to: service, callee: party, from: party, body: session, contentType: .sdp)
        for (name, value) in headers { invite.request.headers.add(HeaderName(name), value) }
        let contact = serverContactAddress(invite.target.kind)
        invite.request.headers.add(.contact, contact.description)
        guard let final = await finalResponse(invite.request, to: invite.target), final.isSuccess, !final.body.isEmpty,
              var dialog = Dialog(uacFor: invite.request, response: final, localContact: contact) else {
            logger.warning("media service did not answer", metadata: ["service": "\(service.rawValue)", "host": "\(invite.target)"])
            return nil
        }
        try? await stack.sendStateless(dialog.makeRequest(.ack, ackFor: invite.request.cseq?.sequence), to: invite.target)
        return ServiceLeg(dialog: dialog, target: invite.target, answer: final.body)
    }

    func closeServiceLeg(_ leg: ServiceLeg) async {
        var dialog = leg.dialog
        _ = await stack.send(dialog.makeRequest(.bye), to: leg.target)
    }

    /// Music for the party on `side` while the other holds; false when the service could not be
    /// reached (the caller then falls back to an inactive session).
    func playMusic(_ call: Call, to side: Call.Side) async -> Bool {
        // The party's own session, as receiving only (its last answer may say inactive).
        guard let session = call.sdpFrom[side],
              let leg = await openServiceLeg(.musicOnHold, offer: SessionText.withDirection(session, "recvonly"), for: call.party(side)) else { return false }
        call.music[side] = leg
        guard await reoffer(call, side: side, session: leg.answer, direction: "sendonly") else {
            call.music[side] = nil
            await closeServiceLeg(leg)
            return false
        }
        return true
    }

    /// Ends every music leg of the call (retrieved, transferred or ended).
    func stopMusic(_ call: Call) {
        let legs = Array(call.music.values)
        call.music = [:]
        guard !legs.isEmpty else { return }
        Task { for leg in legs { await self.closeServiceLeg(leg) } }
    }
}
