// Message waiting (RFC 3842 over RFC 6665): a device SUBSCRIBEs to `message-summary` for its own
// mailbox and is NOTIFYed at once and on every change; a device that registered without
// subscribing is sent the same NOTIFY out of dialog when its user wants that (desk phones
// expect it, as Asterisk does). The body is application/simple-message-summary.

import Foundation
import SIP
import SIPCore
import SIPMessage
import Voicemail
import Wire

/// One subscriber's dialog.
struct MWISubscription: Sendable {
    var mailbox: String
    var dialog: Dialog
    var target: SIPTarget
    var expiresAt: Double
}

extension CallServer {
    static let messageSummary = "message-summary"
    static let summaryType = MediaType(type: "application", subtype: "simple-message-summary")
    /// Subscriptions one user may hold (one per device, with room to spare); more get 403.
    static let maxSubscriptionsPerUser = 16
    /// The shortest subscription taken (seconds); briefer ones get 423 with Min-Expires.
    static let minSubscriptionSeconds: Double = 60

    /// The body of a NOTIFY for `mailbox` (RFC 3842 §5.2).
    func summaryBody(_ mailbox: String) -> [UInt8] {
        let waiting = mailboxes?.waiting(mailbox) ?? .none
        return Array("""
            Messages-Waiting: \(waiting.waiting ? "yes" : "no")\r
            Message-Account: sip:\(mailbox)@\(configuration.domain)\r
            Voice-Message: \(waiting.new)/\(waiting.old) (0/0)\r

            """.utf8)
    }

    /// A SUBSCRIBE outside a dialog: for `message-summary` of the subscriber's own mailbox.
    func handleSubscribe(_ incoming: IncomingRequest) async {
        let request = incoming.request
        let event = request.headers[.event]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard event == Self.messageSummary || event == Self.dialogEvent else {
            var refused = SIPResponse(replyingTo: request, statusCode: 489, reasonPhrase: "Bad Event", toTag: Self.newTag())
            refused.headers.add(.allowEvents, "\(Self.messageSummary), \(Self.dialogEvent)")
            try? await stack.respond(refused, to: incoming)
            return
        }
        guard case .sip(let fromURI)? = request.from?.uri, let user = fromURI.user else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "From must be a sip: URI with a user", toTag: Self.newTag()),
                                     to: incoming, retransmit: false)
            return
        }
        guard await authenticate(incoming, as: user, header: .authorization, challenge: 401) else { return }
        if event == Self.dialogEvent {
            await handleDialogSubscribe(incoming, user: user)
            return
        }
        guard case .sip(let uri) = request.uri, isOurDomain(uri.host) else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 404, reasonPhrase: "Not a mailbox of this server", toTag: Self.newTag()), to: incoming)
            return
        }
        let mailbox = uri.user ?? user
        guard mailbox == user else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "Only your own mailbox (\(user)) may be watched",
                                                 toTag: Self.newTag()), to: incoming)
            return
        }
        guard mailboxes != nil, configuration.voicemail.enabled else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 404, reasonPhrase: "No mailbox for \(user)", toTag: Self.newTag()), to: incoming)
            return
        }
        guard let expires = await subscriptionExpires(incoming) else { return }
        // Lapsed subscriptions go before a new one is counted: what is held stays bounded by users × 16.
        let time = now()
        subscriptions = subscriptions.filter { $0.value.expiresAt > time }
        let tag = Self.newTag()
        var ok = SIPResponse(replyingTo: request, statusCode: 200, toTag: tag)
        ok.headers.add(.expires, String(Int(expires)))
        ok.headers.add(.contact, serverContact(incoming.origin.kind))
        guard expires > 0 else {
            // A fetch (Expires: 0): one NOTIFY saying so, and no subscription.
            try? await stack.respond(ok, to: incoming)
            if let dialog = Dialog(uasFor: request, localTag: tag, localContact: serverContactAddress(incoming.origin.kind), confirmed: true) {
                await sendNotify(MWISubscription(mailbox: mailbox, dialog: dialog, target: subscriberTarget(incoming), expiresAt: now()), terminated: true)
            }
            return
        }
        let held = subscriptions.values.filter { $0.mailbox == mailbox && $0.expiresAt > now() }.count
        guard held < Self.maxSubscriptionsPerUser,
              let dialog = Dialog(uasFor: request, localTag: tag, localContact: serverContactAddress(incoming.origin.kind), confirmed: true) else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "Too many subscriptions for \(mailbox)", toTag: tag),
                                     to: incoming)
            return
        }
        let subscription = MWISubscription(mailbox: mailbox, dialog: dialog, target: subscriberTarget(incoming), expiresAt: now() + expires)
        subscriptions[dialog.id] = subscription
        try? await stack.respond(ok, to: incoming)
        await sendNotify(subscription)
    }

    /// A SUBSCRIBE inside its dialog: a refresh, or (Expires: 0) the end.
    func refreshSubscription(_ incoming: IncomingRequest, id: DialogID) async {
        if await refreshDialogSubscription(incoming, id: id) { return }
        let request = incoming.request
        guard var subscription = subscriptions[id], subscription.expiresAt > now() else {
            subscriptions[id] = nil
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481, reasonPhrase: "No such subscription"), to: incoming)
            return
        }
        if case .reject(let status, let reason) = subscription.dialog.receive(request) {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: reason), to: incoming)
            return
        }
        let expires = await acceptRefresh(incoming)
        subscription.expiresAt = now() + expires
        if expires > 0 {
            subscriptions[id] = subscription
            await sendNotify(subscription)
        } else {
            subscriptions[id] = nil
            await sendNotify(subscription, terminated: true)
        }
    }

    /// Where NOTIFYs for a subscriber go: as for a registered device, the address the SUBSCRIBE
    /// came from unless its Contact names that host (DeviceTarget.swift).
    func subscriberTarget(_ incoming: IncomingRequest) -> SIPTarget {
        let request = incoming.request
        let source = "\(incoming.origin.source.ipAddress ?? "127.0.0.1"):\(incoming.origin.source.port ?? 5060)"
        let contact = request.contacts.first ?? NameAddress(uri: request.uri)
        return Binding(contact: contact, expires: 0, callID: request.callID ?? "", cseq: 0, path: [], instance: nil, regID: nil,
                       source: source, transport: incoming.origin.kind.rawValue).requestTarget
    }

    /// NOTIFYs one subscriber with the mailbox as it is now.
    func sendNotify(_ subscription: MWISubscription, terminated: Bool = false) async {
        // The stored dialog (its CSeq goes up with every NOTIFY), unless it just ended.
        var dialog = subscriptions[subscription.dialog.id]?.dialog ?? subscription.dialog
        var notify = dialog.makeRequest(.notify)
        if !terminated { subscriptions[dialog.id]?.dialog = dialog }
        notify.headers.add(.event, Self.messageSummary)
        let remaining = max(0, Int((subscription.expiresAt - now()).rounded()))
        notify.headers.add(.subscriptionState, terminated || remaining == 0 ? "terminated;reason=timeout" : "active;expires=\(remaining)")
        notify.setBody(summaryBody(subscription.mailbox), contentType: Self.summaryType)
        let id = dialog.id
        watch(await stack.send(notify, to: subscription.target)) { server in server.endSubscription(id) }
    }

    /// The Expires a new subscription gets (at most an hour), or nil when too brief a one was
    /// refused with 423 (RFC 6665 §4.2.1.1: each would cost a dialog for little).
    func subscriptionExpires(_ incoming: IncomingRequest) async -> Double? {
        let request = incoming.request
        let expires = min(Double(request.expires ?? 3600), 3600)
        guard expires == 0 || expires >= Self.minSubscriptionSeconds else {
            var brief = SIPResponse(replyingTo: request, statusCode: 423, reasonPhrase: "Interval Too Brief", toTag: Self.newTag())
            brief.headers.add(.minExpires, String(Int(Self.minSubscriptionSeconds)))
            try? await stack.respond(brief, to: incoming)
            return nil
        }
        return expires
    }

    /// A refresh inside a subscription's dialog, answered 200 with what it gets (0: it ends).
    func acceptRefresh(_ incoming: IncomingRequest) async -> Double {
        let request = incoming.request
        let expires = max(min(Double(request.expires ?? 3600), 3600), request.expires == 0 ? 0 : Self.minSubscriptionSeconds)
        var ok = SIPResponse(replyingTo: request, statusCode: 200)
        ok.headers.add(.expires, String(Int(expires)))
        ok.headers.add(.contact, serverContact(incoming.origin.kind))
        try? await stack.respond(ok, to: incoming)
        return expires
    }

    /// A NOTIFY's answers: gone (481) or refusing, the subscription ends (RFC 6665 §4.2.2).
    func watch(_ responses: AsyncThrowingStream<SIPResponse, any Error>, end: @escaping @Sendable (isolated CallServer) -> Void) {
        Task { [weak self] in
            do {
                for try await response in responses where response.statusCode >= 200 {
                    if response.statusCode == 481 || response.statusCode >= 400 { await self?.run(end) }
                }
            } catch {
                await self?.run(end)
            }
        }
    }

    private func run(_ body: @Sendable (isolated CallServer) -> Void) { body(self) }

    func endSubscription(_ id: DialogID) { subscriptions[id] = nil }

    /// A mailbox changed: its subscribers are told, and its user's devices that did not subscribe.
    func mailboxChanged(_ mailbox: String) async {
        let time = now()
        subscriptions = subscriptions.filter { $0.value.expiresAt > time }
        let watching = subscriptions.values.filter { $0.mailbox == mailbox }
        for subscription in watching { await sendNotify(subscription) }
        let waiting = mailboxes?.waiting(mailbox) ?? .none
        events.append(.messageWaiting(user: mailbox, new: waiting.new, old: waiting.old))
        guard configuration.user(mailbox)?.unsolicitedMWI ?? configuration.voicemail.unsolicitedMWI else { return }
        let subscribed = Set(watching.map { $0.dialog.remoteTarget.description })
        for binding in registrar.lookup(mailbox, now: time) where !subscribed.contains(binding.contact.uri.description) {
            await sendUnsolicitedNotify(mailbox, to: binding)
        }
    }

    /// Tells devices that just registered what waits, when anything does (and the user wants
    /// unsolicited NOTIFYs).
    func tellWaiting(_ user: String, devices: [Binding]) async {
        guard !devices.isEmpty, configuration.user(user)?.unsolicitedMWI ?? configuration.voicemail.unsolicitedMWI,
              let mailboxes, mailboxes.count(user) > 0 else { return }
        for binding in devices { await sendUnsolicitedNotify(user, to: binding) }
    }

    /// A NOTIFY outside any dialog to a registered device (what desk phones without a
    /// subscription expect).
    private func sendUnsolicitedNotify(_ mailbox: String, to binding: Binding) async {
        var headers = SIPHeaders()
        let domain = configuration.domain
        var from = NameAddress(uri: SIPURI(user: mailbox, host: domain))
        from.tag = Self.newTag()
        headers.add(.from, from.description)
        headers.add(.to, NameAddress(uri: SIPURI(user: mailbox, host: domain)).description)
        headers.add(.callID, "\(Self.newTag())@\(domain)")
        headers.add(.cseq, CSeq(1, .notify).description)
        headers.add(.maxForwards, "70")
        for route in binding.path { headers.add(.route, route) }
        headers.add(.event, Self.messageSummary)
        headers.add(.subscriptionState, "active")
        headers.add(.contact, serverContact(binding.requestTarget.kind))
        var notify = SIPRequest(method: .notify, uri: binding.contact.uri, headers: headers)
        notify.setBody(summaryBody(mailbox), contentType: Self.summaryType)
        let responses = await stack.send(notify, to: binding.requestTarget)
        Task { for try await _ in responses {} }
    }
}
