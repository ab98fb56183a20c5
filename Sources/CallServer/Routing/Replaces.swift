// An INVITE with Replaces (RFC 3891): a phone's own attended transfer. The transferee, told by
// the transferor's REFER, calls in naming the transferor's dialog with the call server; the
// newcomer's leg takes that leg's place in its call, the party who stays is re-offered the
// newcomer's session, and the transferor's leg is ended with BYE.

import Foundation
import SIP
import SIPCore
import SIPMessage

/// The Replaces header: the dialog to replace, as its recipient (this server) knows it.
struct ReplacesHeader: Equatable {
    var callID: String
    /// The recipient's tag (ours) and the other side's.
    var toTag: String
    var fromTag: String
    var earlyOnly: Bool

    /// `callid;to-tag=…;from-tag=…[;early-only]` (RFC 3891 §6.1); nil when a part is missing.
    init?(parsing value: String) {
        let parts = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = parts.first, !first.isEmpty else { return nil }
        var to: String?, from: String?, early = false
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            switch pair[0].lowercased() {
            case "to-tag": to = pair.count == 2 ? pair[1] : nil
            case "from-tag": from = pair.count == 2 ? pair[1] : nil
            case "early-only": early = true
            default: break
            }
        }
        guard let to, let from, !to.isEmpty, !from.isEmpty else { return nil }
        callID = first
        toTag = to
        fromTag = from
        earlyOnly = early
    }

    var dialogID: DialogID { DialogID(callID: callID, localTag: toTag, remoteTag: fromTag) }
}

extension CallServer {
    func handleReplaces(_ incoming: IncomingRequest, caller: String) async {
        let request = incoming.request
        func refuse(_ status: Int, _ reason: String) async {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: reason, toTag: Self.newTag()), to: incoming)
        }
        guard request.headers.values(.replaces).count == 1, let replaces = ReplacesHeader(parsing: request.headers[.replaces] ?? "") else {
            await refuse(400, "Malformed Replaces header"); return
        }
        guard let entry = dialogs[replaces.dialogID], let call = calls[entry.call] else {
            await refuse(481, "No dialog matches Replaces"); return
        }
        // §3: early-only asks to replace a dialog still ringing; ours are all confirmed.
        guard !replaces.earlyOnly, call.state == .answered else { await refuse(486, "Busy Here (the dialog is confirmed)"); return }
        guard !request.body.isEmpty else { await refuse(488, "Replaces needs an offer in the INVITE"); return }
        let leaving = entry.side, staying = entry.side.other
        guard let oldDialog = call.dialog(leaving), let oldTarget = call.legTarget(leaving) else {
            await refuse(481, "No dialog matches Replaces"); return
        }
        // The party who stays hears the newcomer from now on; its answer is the newcomer's.
        guard await reoffer(call, side: staying, session: request.body, direction: "sendrecv"), let answer = call.sdpFrom[staying] else {
            await refuse(488, "The party who stays refused the new session"); return
        }
        let toTag = Self.newTag()
        let contact = serverContactAddress(incoming.origin.kind)
        guard let dialog = Dialog(uasFor: request, localTag: toTag, localContact: contact, confirmed: true) else {
            await refuse(400, "INVITE without From tag or Contact"); return
        }
        var ok = SIPResponse(replyingTo: request, statusCode: 200, toTag: toTag)
        ok.headers.add(.contact, contact.description)
        ok.headers.add(.allow, Self.allow)
        ok.headers.add(.supported, Self.supported)
        ok.setBody(SessionText.withDirection(answer, "sendrecv"), contentType: .sdp)
        // The newcomer's leg takes the place of the one it replaces.
        dialogs[oldDialog.id] = nil
        let departed = call.party(leaving)
        placeLeg(call, on: leaving, dialog: dialog, target: SIPTarget(kind: incoming.origin.kind, address: incoming.origin.source),
                 from: request.body, to: ok.body, device: nil)
        call.seat(caller, on: leaving, name: configuration.user(caller)?.name)
        call.heldBy = []
        stopMusic(call)
        call.path += ["replaces", caller]
        await run(legEvent(call, leaving, .answered(reliable: incoming.origin.kind.isReliable)), on: leaving, of: call, answer: (ok, incoming))
        try? await stack.respond(ok, to: incoming)
        logger.info("dialog replaced", metadata: ["call": "\(call.key)", "left": "\(departed)", "joined": "\(caller)"])
        events.append(.callTransferred(call: call.key, caller: call.caller, callee: call.target, rebridged: true, replaced: departed))
        var old = oldDialog
        var bye = old.makeRequest(.bye)
        bye.headers.add(.reason, "SIP;cause=200;text=\"Call completed elsewhere\"")
        _ = await stack.send(bye, to: oldTarget)
    }
}
