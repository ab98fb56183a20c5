// Routing an INVITE: authentication, domain checks, the numbering plan, DND and forwarding, then
// the callee's devices rung (RingingDriver.swift); the final response to the caller and the CDR.

import Wire
import Foundation
import MediaServices
import NIOCore
import SIP
import SIPCore
import SIPMessage
import Voicemail

extension CallServer {
    func handleInvite(_ incoming: IncomingRequest) async {
        let request = incoming.request
        guard let hops = await forwardedHops(incoming) else { return }
        guard case .sip(let uri) = request.uri else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 416, toTag: Self.newTag()), to: incoming)
            return
        }
        // Never an open relay: only our own domain is routed.
        guard isOurDomain(uri.host) else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "Not responsible for \(uri.host) (no relaying)", toTag: Self.newTag()), to: incoming)
            return
        }
        // An unknown caller is challenged as a known one is (and never authenticates).
        guard case .sip(let fromURI)? = request.from?.uri, let caller = fromURI.user else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "From must be a sip: URI with a user", toTag: Self.newTag()),
                                     to: incoming, retransmit: false)
            return
        }
        guard await authenticate(incoming, as: caller, header: .proxyAuthorization, challenge: 407) else { return }
        // Past its capacity the server says so (and when to come back) rather than failing calls
        // it has taken (Asterisk's maxcalls; RFC 3261 §21.5.4).
        guard calls.count < configuration.security.maxCalls || calls[request.callID ?? ""] != nil else {
            var busy = SIPResponse(replyingTo: request, statusCode: 503,
                                   reasonPhrase: "Service Unavailable (\(configuration.security.maxCalls) calls in progress)", toTag: Self.newTag())
            busy.headers.add(.retryAfter, "5")
            try? await stack.respond(busy, to: incoming)
            return
        }
        if let refusal = encryptionRefusal(of: request.body, for: caller, side: "caller's") {
            logger.notice("call refused", metadata: ["call-id": "\(request.callID ?? "")", "from": "\(caller)", "reason": "\(refusal)"])
            try? await stack.respond(encryptionRefusalResponse(request, reason: refusal), to: incoming)
            return
        }
        if request.headers.contains(.replaces) {
            await handleReplaces(incoming, caller: caller)
            return
        }
        // Resolved unescaped (a feature code's `#` comes as %23); kept as it came for the call
        // (its To), except that a hot-desk login's PIN goes in no record and no log.
        var dialed = uri.user ?? ""
        let destination = NumberingPlan(configuration).resolve(uri.unescapedUser ?? dialed)
        if case .hotDesk(.login(let user, _)) = destination { dialed = NumberingPlan.hotDeskLogin + user }
        switch destination {
        case .user, .service, .acdPath, .voicemail, .conference, .hotDesk, .attendant: break
        case .parkSlot(let slot):
            if await retrieveParked(incoming, slot: slot, caller: caller) { return }
        case .incomplete:
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 484, reasonPhrase: "Address Incomplete (\(dialed) begins a feature code)", toTag: Self.newTag()), to: incoming)
            return
        case .unknown:
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 404, reasonPhrase: "No such extension \(dialed)", toTag: Self.newTag()), to: incoming)
            return
        }
        let key = request.callID ?? Self.newTag()
        guard calls[key] == nil else { return }  // a retransmission after authentication
        let call = Call(key: key, invite: incoming, caller: caller, callerName: configuration.user(caller)?.name, dialed: dialed)
        call.offer = applyingEncryptionPolicy(call.offer, for: caller)
        call.maxForwards = hops
        switch destination {
        case .user(let user) where user != dialed:
            call.target = user
            call.path.append(user)
        case .service(let service): call.service = service
        case .acdPath(let path): call.acd = Call.ACDState(path: path)
        case .conference(let room):
            call.service = .conference
            call.conferenceRoom = room
        case .hotDesk:
            call.service = .announce
        case .attendant:
            call.attendantReason = "direct"
        case .parkSlot:
            // Nothing waits there: the caller is told so.
            call.service = .announce
            call.announcement = ["park-empty"]
        case .voicemail(let access):
            call.service = .voicemail
            switch access {
            case .own:
                // The caller authenticated as the mailbox's user: their own phone needs no PIN.
                call.voicemail = VoicemailRequest(.retrieve(mailbox: caller, verified: !configuration.voicemail.askPINOnOwnPhone))
            case .login: call.voicemail = VoicemailRequest(.login)
            case .deposit(let mailbox):
                call.target = mailbox
                call.path.append(mailbox)
                call.voicemail = VoicemailRequest(.deposit(mailbox: mailbox, greeting: .unavailable))
            }
        default: break
        }
        if case .user(let user) = destination, let referrer = takeReferral(caller: caller, dialed: dialed), referrer != user {
            call.recallTo = referrer
        }
        calls[key] = call
        logger.info("call", metadata: ["call-id": "\(key)", "from": "\(caller)", "to": "\(dialed)"])
        if case .hotDesk(let code) = destination {
            // Done at once (the call is in the table: a retransmission finds it); the announcement says how it went.
            call.announcement = await hotDeskCode(code, caller: caller)
        }
        events.append(.callOffered(call: key, caller: caller, callerName: call.callerName, dialed: dialed))
        // An agent whose phone dials out takes no ACD offer meanwhile (it would only find it busy).
        await agentsInCall(call, parties: [caller])
        if call.acd != nil {
            await acdArrive(call)
        } else {
            await route(call)
        }
    }

    /// Applies the target's features and rings its devices, or ends the call.
    func route(_ call: Call) async {
        if let service = call.service {
            // A media service answers itself: one fork, to the media host.
            var fork = makeInvite(to: service, callee: call.target, from: call.caller, body: call.offer, contentType: call.offerType)
            fork.request.headers.add(Self.callHeader, call.key)
            fork.request.headers.set(.maxForwards, String(call.maxForwards))
            if service == .voicemail {
                guard let asked = call.voicemail, let key = voicemailKey else {
                    await advance(call, .unanswered(status: 480, reason: "Temporarily Unavailable (no voicemail on this server)", outcome: .unavailable))
                    return
                }
                fork.request.headers.add(HeaderName(VoicemailRequest.header), asked.signed(callID: fork.request.callID ?? "", key: key))
            }
            if service == .conference, let room = call.conferenceRoom {
                fork.request.headers.add(HeaderName(ConferenceRoom.header), room)
            }
            if service == .announce {
                fork.request.headers.add(HeaderName(Announcement.header), call.announcement.joined(separator: " "))
            }
            if service == .queue, let status = contactCenter.standing(now: now())[call.key] {
                // Where the caller stands, for its first announcement.
                fork.request.headers.add(QueueStatus.header, status.text)
                call.acd?.announced = (status, now())
            }
            await ring(call, forks: [RingRound.Fork(request: fork.request, target: fork.target, device: "service:\(service.rawValue)")], seconds: nil)
            return
        }
        if call.attendantReason != nil {
            await ringConsoles(call)
            return
        }
        let features = (try? store.features(call.target)) ?? Features(extensionNumber: call.target)
        if let destination = features.forwardAlways, call.hops < 5 {
            await retarget(call, to: destination, reason: "forwardAlways")
            return
        }
        if features.doNotDisturb {
            await advance(call, .unanswered(status: 486, reason: "Busy Here (Do Not Disturb)", outcome: .busy))
            return
        }
        // A hot-desk user rings the phone it is logged in at (logged out: nowhere, as unregistered).
        var bindings = ringingExtension(call.target).map { registrar.lookup($0, now: now()) } ?? []
        if let device = features.selectedDevice {
            let selected = bindings.filter { $0.deviceName == device }
            if !selected.isEmpty { bindings = selected }
        }
        guard !bindings.isEmpty else {
            if await recallReferral(call) { return }
            if let destination = features.forwardNoAnswer, call.hops < 5 {
                await retarget(call, to: destination, reason: "forwardNoAnswer")
            } else if hasMailbox(call.target), call.hops < 5 {
                await toVoicemail(call, greeting: .unavailable, reason: "forwardNoAnswer")
            } else {
                await advance(call, .unanswered(status: 480, reason: "Temporarily Unavailable (\(call.target) is not registered)", outcome: .unavailable))
            }
            return
        }
        if let refusal = encryptionRefusal(of: call.offer, for: call.target, side: "caller's") {
            logger.notice("call refused", metadata: ["call-id": "\(call.key)", "to": "\(call.target)", "reason": "\(refusal)"])
            await advance(call, .unanswered(status: 488, reason: "Not Acceptable Here", outcome: .rejected,
                                            headers: [RelayedHeader(name: .warning, value: Self.encryptionWarning(configuration.domain, refusal))]))
            return
        }
        let forks = bindings.map { makeFork(call, binding: $0) }
        events.append(.callRinging(call: call.key, caller: call.caller, callee: call.target, devices: forks.map(\.device)))
        // A phone's blind transfer rings its target for the recall time, then comes back.
        let recalls = call.recallTo != nil && call.recall == nil
        await ring(call, forks: forks, seconds: recalls ? configuration.transferRecallSeconds : features.noAnswerSeconds ?? configuration.ringTimeout)
    }

    func retarget(_ call: Call, to destination: String, reason: String) async {
        if destination == CallSettings.voicemail {
            await toVoicemail(call, greeting: reason == "forwardBusy" ? .busy : .unavailable, reason: reason)
            return
        }
        await advance(call, .rerouted)
        if let attendant = configuration.attendant, destination == attendant.number, call.hops < 5 {
            // Forwarded to the attendant: the consoles see why it came.
            call.hops += 1
            call.path += [reason, destination]
            events.append(.callForwarded(call: call.key, from: call.target, to: destination, reason: reason))
            call.target = destination
            call.attendantReason = reason
            await route(call)
            return
        }
        guard configuration.user(destination) != nil else {
            await advance(call, .unanswered(status: 404, reason: "Forwarding target \(destination) does not exist", outcome: .notFound))
            return
        }
        call.hops += 1
        call.path += [reason, destination]
        events.append(.callForwarded(call: call.key, from: call.target, to: destination, reason: reason))
        call.target = destination
        if !call.provisionalSent, let invite = call.invite {
            var forwarding = SIPResponse(replyingTo: invite.request, statusCode: 181, toTag: call.toTag)
            forwarding.headers.add(.contact, serverContact(invite.origin.kind))
            try? await stack.respond(forwarding, to: invite)
        }
        await route(call)
    }

    /// The callee's mailbox takes the call (their forwarding says so, or they did not answer and
    /// have a mailbox): its greeting, then the caller's message.
    func toVoicemail(_ call: Call, greeting: VoicemailGreeting, reason: String) async {
        await advance(call, .rerouted)
        call.hops += 1
        call.path += [reason, CallSettings.voicemail]
        events.append(.callForwarded(call: call.key, from: call.target, to: CallSettings.voicemail, reason: reason))
        call.service = .voicemail
        call.voicemail = VoicemailRequest(.deposit(mailbox: call.target, greeting: greeting))
        await route(call)
    }

    /// Whether a call not answered by `user` goes to their mailbox.
    func hasMailbox(_ user: String) -> Bool { configuration.voicemail.enabled && voicemailKey != nil && configuration.user(user) != nil }

    func makeFork(_ call: Call, binding: Binding) -> RingRound.Fork {
        let display = call.recall?.displayName(party: call.callerName ?? call.caller)
        var fork = makeInvite(to: binding, callee: call.target, from: call.caller, body: applyingEncryptionPolicy(call.offer, for: call.target),
                              contentType: call.offerType, fromDisplay: display)
        fork.request.headers.add(Self.callHeader, call.key)
        if let reason = call.attendantReason {
            fork.request.headers.add(HeaderName(ConsoleMark.header), ConsoleMark(reason: reason, since: call.startedAt).headerValue)
        }
        if let recall = call.recall { fork.request.headers.add(HeaderName(RecallMark.header), recall.headerValue) }
        fork.request.headers.set(.maxForwards, String(call.maxForwards))
        return RingRound.Fork(request: fork.request, target: fork.target, device: binding.deviceName)
    }

    /// Names the call (its CTI id) on the INVITEs sent to devices, so a phone can ask for call
    /// control (transfer, consult, redirect) on the call it is ringing or in.
    static let callHeader = HeaderName(HoldfastHeader.call)

    /// An INVITE from `from` (identity from the directory, never from what a caller claimed:
    /// RFC 3325 P-Asserted-Identity) to one registered device of `callee`.
    /// `fromDisplay` replaces the display name in From (a recall says so there, for phones that
    /// read no header of ours); P-Asserted-Identity keeps the directory's.
    func makeInvite(to binding: Binding, callee: String, from: String, body: [UInt8], contentType: MediaType?,
                    fromDisplay: String? = nil) -> (request: SIPRequest, target: SIPTarget) {
        (makeInvite(uri: binding.contact.uri, callee: callee, from: from, routes: binding.path, body: body, contentType: contentType, fromDisplay: fromDisplay),
         binding.requestTarget)
    }

    /// An INVITE from `from` to a media service (the numbering plan sent the call there, or a
    /// held party is given music).
    func makeInvite(to service: MediaService, callee: String, from: String, body: [UInt8], contentType: MediaType?) -> (request: SIPRequest, target: SIPTarget) {
        let uri = SIPURI(user: service.rawValue, host: mediaTarget.host, port: mediaTarget.port)
        return (makeInvite(uri: .sip(uri), callee: callee, from: from, routes: [], body: body, contentType: contentType), mediaTarget)
    }

    private func makeInvite(uri: URI, callee: String, from: String, routes: [String], body: [UInt8], contentType: MediaType?,
                            fromDisplay: String? = nil) -> SIPRequest {
        var headers = SIPHeaders()
        let domain = configuration.domain
        let identity = NameAddress(displayName: configuration.user(from)?.name, uri: SIPURI(user: from, host: domain))
        var fromHeader = identity
        if let fromDisplay { fromHeader.displayName = fromDisplay }
        fromHeader.tag = Self.newTag()
        headers.add(.from, fromHeader.description)
        headers.add(.to, NameAddress(displayName: configuration.user(callee)?.name, uri: SIPURI(user: callee, host: domain)).description)
        headers.add(.callID, "\(Self.newTag())@\(domain)")
        headers.add(.cseq, CSeq(1, .invite).description)
        for route in routes { headers.add(.route, route) }
        headers.add(.pAssertedIdentity, identity.description)
        headers.add(.allow, Self.allow)
        var request = SIPRequest(method: .invite, uri: uri, headers: headers)
        if !body.isEmpty { request.setBody(body, contentType: contentType ?? .sdp) }
        return request
    }

    func serverContact(_ kind: SIPTransportKind) -> String {
        serverContactAddress(kind).description
    }

    /// Our Contact on a leg over `kind`: the address and port we listen on, with `transport=tcp`
    /// or `transport=tls` over those, so a device's in-dialog requests (BYE above all) come back
    /// over the leg's transport. (Learnt once at start: the addresses do not change while the
    /// server runs.)
    func serverContactAddress(_ kind: SIPTransportKind) -> NameAddress {
        if let known = contacts[kind] { return known }
        var uri = SIPURI(user: "pbx", host: configuration.listen.host, port: kind == .tls ? configuration.listen.tls?.port ?? 5061 : configuration.listen.port)
        if let parameter = kind.uriParameter { uri.parameters.set("transport", raw: parameter) }
        return NameAddress(uri: uri)
    }

    func learnContacts() async {
        for kind in SIPTransportKind.allCases {
            guard let local = await stack.localHostPort(kind) else { continue }
            var uri = SIPURI(user: "pbx", host: local.host, port: local.port)
            if let parameter = kind.uriParameter { uri.parameters.set("transport", raw: parameter) }
            contacts[kind] = NameAddress(uri: uri)
        }
    }

    /// What a failure relayed to the caller keeps of the device's answer: why (Warning, RFC 3261
    /// §20.43) and when to try again.
    static func relayedFailureHeaders(_ response: SIPResponse) -> [RelayedHeader] {
        [HeaderName.warning, .retryAfter, .unsupported].flatMap { name in response.headers.values(name).map { RelayedHeader(name: name, value: $0) } }
    }

    /// Runs `body` on this server after `seconds`: a timer of the event loop the server runs on
    /// (no task and no thread hop per call for timers that are almost always cancelled).
    func after(seconds: Double, _ body: @escaping @Sendable (isolated CallServer) -> Void) -> Scheduled<Void> {
        stack.transport.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1_000_000_000))) { [weak self] in
            self?.assumeIsolated { body($0) }
        }
    }
}
