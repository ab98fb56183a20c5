// Busy lamps (RFC 4235, the dialog event package over RFC 6665): a phone SUBSCRIBEs to `dialog`
// for an extension or a park slot of this server and is NOTIFYed with application/dialog-info+xml
// at once and whenever what it watches changes: no dialog (idle), `early` (ringing), `confirmed`
// (in a call, or a call parked in the slot), each with the remote identity so a lamp can show
// who calls. The call server follows its own CTI events to know when to look again.

import Foundation
import SIP
import SIPCore
import SIPMessage
import Wire

/// One watcher's subscription to one extension's or slot's dialogs.
struct DialogSubscription: Sendable {
    var resource: String
    /// Who watches (the authenticated user): bounds how many one user holds.
    var subscriber: String
    var dialog: Dialog
    var target: SIPTarget
    var expiresAt: Double
    /// The document version last sent (RFC 4235 §4.1: one counter per subscription), and what it said.
    var version = 0
    var lastBody = ""
}

/// One dialog of a watched extension as the lamp shows it.
struct WatchedDialog: Sendable, Equatable {
    var id: String
    /// `initiator`: the extension called; `recipient`: it is called.
    var direction: String
    /// `early` or `confirmed`.
    var state: String
    var remote: String
    var remoteName: String?
}

extension CallServer {
    static let dialogEvent = "dialog"
    static let dialogInfoType = MediaType(type: "application", subtype: "dialog-info+xml")
    /// Lamps one user may watch (a console's whole office, a desk phone's keys).
    static let maxDialogSubscriptionsPerUser = 200

    /// A SUBSCRIBE for `dialog`: the subscriber authenticates; the resource is any extension or
    /// park slot of this server.
    func handleDialogSubscribe(_ incoming: IncomingRequest, user: String) async {
        let request = incoming.request
        guard case .sip(let uri) = request.uri, isOurDomain(uri.host), let resource = uri.user,
              configuration.user(resource) != nil || parkLot.isSlot(resource) else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 404, reasonPhrase: "No such extension or park slot", toTag: Self.newTag()),
                                     to: incoming)
            return
        }
        guard let expires = await subscriptionExpires(incoming) else { return }
        let time = now()
        dialogSubscriptions = dialogSubscriptions.filter { $0.value.expiresAt > time }
        let tag = Self.newTag()
        guard let dialog = Dialog(uasFor: request, localTag: tag, localContact: serverContactAddress(incoming.origin.kind), confirmed: true) else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 400, reasonPhrase: "SUBSCRIBE without From tag or Contact", toTag: tag), to: incoming)
            return
        }
        let held = dialogSubscriptions.values.filter { $0.subscriber == user }.count
        guard expires == 0 || held < Self.maxDialogSubscriptionsPerUser else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "Too many subscriptions for \(user)", toTag: tag), to: incoming)
            return
        }
        var ok = SIPResponse(replyingTo: request, statusCode: 200, toTag: tag)
        ok.headers.add(.expires, String(Int(expires)))
        ok.headers.add(.contact, serverContact(incoming.origin.kind))
        try? await stack.respond(ok, to: incoming)
        let subscription = DialogSubscription(resource: resource, subscriber: user, dialog: dialog, target: subscriberTarget(incoming), expiresAt: time + expires)
        if expires > 0 { dialogSubscriptions[dialog.id] = subscription }
        await sendDialogNotify(subscription, dialogs: watchedDialogs()[resource] ?? [], terminated: expires == 0)
    }

    /// A refresh or end of a dialog subscription (inside its dialog); false when it is none.
    func refreshDialogSubscription(_ incoming: IncomingRequest, id: DialogID) async -> Bool {
        guard var subscription = dialogSubscriptions[id] else { return false }
        let request = incoming.request
        if case .reject(let status, let reason) = subscription.dialog.receive(request) {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: reason), to: incoming)
            return true
        }
        let expires = await acceptRefresh(incoming)
        subscription.expiresAt = now() + expires
        dialogSubscriptions[id] = expires > 0 ? subscription : nil
        await sendDialogNotify(subscription, dialogs: watchedDialogs()[subscription.resource] ?? [], terminated: expires == 0, force: true)
        return true
    }

    /// Every extension's and slot's dialogs now, from the call table (one pass over the calls).
    func watchedDialogs() -> [String: [WatchedDialog]] {
        var watched: [String: [WatchedDialog]] = [:]
        for call in calls.values where !call.life.isEnded {
            let state = call.state == .answered ? "confirmed" : "early"
            if call.service == nil || call.service == .voicemail {
                watched[call.caller, default: []].append(WatchedDialog(id: call.key + ";caller", direction: "initiator", state: state,
                                                                      remote: call.target, remoteName: configuration.user(call.target)?.name))
            }
            if call.service == nil, configuration.user(call.target) != nil {
                // A call that rings or connects a hot-desk user lights the hot-desk user's lamp.
                watched[call.target, default: []].append(WatchedDialog(id: call.key + ";callee", direction: "recipient", state: state,
                                                                      remote: call.caller, remoteName: call.callerName))
            }
        }
        for (slot, parked) in parkLot.parked {
            guard let call = calls[parked.call], let side = call.parkedSide else { continue }
            let party = call.party(side)
            watched[slot, default: []].append(WatchedDialog(id: call.key + ";park", direction: "recipient", state: "confirmed",
                                                            remote: party, remoteName: configuration.user(party)?.name))
        }
        return watched
    }

    /// The call server's own events said something changed: each lamp whose dialogs are not
    /// what it was last told is NOTIFYed.
    func dialogStateChanged() async {
        guard !dialogSubscriptions.isEmpty else { return }
        let time = now()
        dialogSubscriptions = dialogSubscriptions.filter { $0.value.expiresAt > time }
        let watched = watchedDialogs()
        for subscription in dialogSubscriptions.values {
            await sendDialogNotify(subscription, dialogs: watched[subscription.resource] ?? [])
        }
    }

    /// `dialog-info` for the resource (RFC 4235 §4): its dialogs, a full state, the next version;
    /// not sent when nothing changed since the last (unless `force`).
    private func sendDialogNotify(_ subscription: DialogSubscription, dialogs watched: [WatchedDialog], terminated: Bool = false, force: Bool = false) async {
        let entity = "sip:\(subscription.resource)@\(configuration.domain)"
        let content = watched.map { dialog in
            let remote = "sip:\(dialog.remote)@\(configuration.domain)"
            let display = dialog.remoteName.map { " display=\"\(Self.xmlEscaped($0))\"" } ?? ""
            return "  <dialog id=\"\(Self.xmlEscaped(dialog.id))\" direction=\"\(dialog.direction)\">\n    <state>\(dialog.state)</state>\n"
                + "    <remote><identity\(display)>\(Self.xmlEscaped(remote))</identity><target uri=\"\(Self.xmlEscaped(remote))\"/></remote>\n  </dialog>\n"
        }.joined()
        var current = dialogSubscriptions[subscription.dialog.id] ?? subscription
        guard force || terminated || current.lastBody != content || current.version == 0 else { return }
        current.version += 1
        current.lastBody = content
        var dialog = current.dialog
        var notify = dialog.makeRequest(.notify)
        current.dialog = dialog
        if !terminated, dialogSubscriptions[subscription.dialog.id] != nil { dialogSubscriptions[subscription.dialog.id] = current }
        notify.headers.add(.event, Self.dialogEvent)
        let remaining = max(0, Int((current.expiresAt - now()).rounded()))
        notify.headers.add(.subscriptionState, terminated || remaining == 0 ? "terminated;reason=timeout" : "active;expires=\(remaining)")
        let body = "<?xml version=\"1.0\"?>\n<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"\(current.version - 1)\" state=\"full\" entity=\"\(entity)\">\n"
            + content + "</dialog-info>\n"
        notify.setBody(Array(body.utf8), contentType: Self.dialogInfoType)
        let id = current.dialog.id
        watch(await stack.send(notify, to: current.target)) { server in server.endDialogSubscription(id) }
    }

    func endDialogSubscription(_ id: DialogID) { dialogSubscriptions[id] = nil }

    /// Every extension's and park slot's lamp (CTI `GET lamps`): in a call (busy), ringing, DND,
    /// not registered, idle; a slot parked or idle; with the SIP watchers of each.
    public func lamps() -> [LampInfo] {
        let watched = watchedDialogs()
        let time = now()
        var watchers: [String: Int] = [:]
        for subscription in dialogSubscriptions.values where subscription.expiresAt > time { watchers[subscription.resource, default: 0] += 1 }
        let extensions = configuration.users.map { user -> LampInfo in
            let number = user.extensionNumber
            let dialogs = watched[number] ?? []
            let state: String
            if dialogs.contains(where: { $0.state == "confirmed" }) { state = "busy" }
            else if !dialogs.isEmpty { state = "ringing" }
            else if (try? store.features(number))?.doNotDisturb == true { state = "dnd" }
            else if ringingExtension(number).map({ registrar.lookup($0, now: time).isEmpty }) ?? true { state = "unregistered" }
            else { state = "idle" }
            return LampInfo(number: number, state: state, remote: dialogs.first?.remote, watchers: watchers[number] ?? 0)
        }
        let slots = parkLot.slots.map { slot in
            LampInfo(number: slot, state: watched[slot] == nil ? "idle" : "parked", remote: watched[slot]?.first?.remote, watchers: watchers[slot] ?? 0)
        }
        return extensions + slots
    }

    /// Follows the call server's own CTI events: a call, park or hot-desk change may change a lamp.
    func followDialogState() {
        let subscription = events.subscribe(after: nil)
        Task { [weak self] in
            for await event in subscription.live {
                guard let self else { return }
                let type = event.type
                if type.hasPrefix("call.") || type.hasPrefix("park.") || type.hasPrefix("hotdesk.") { await self.dialogStateChanged() }
            }
        }
    }

    static func xmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
