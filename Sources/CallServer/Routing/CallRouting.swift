// Routing an INVITE: authentication, domain and user checks, DND and forwarding, forking to the
// callee's devices, provisional and final responses relayed, ring timer, CANCEL, and the CDR.

import Wire
import Foundation
import MediaServices
import NIOCore
import SIP
import SIPCore
import SIPMessage

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
        guard case .sip(let fromURI)? = request.from?.uri, let caller = fromURI.user, configuration.user(caller) != nil else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "Unknown caller", toTag: Self.newTag()), to: incoming)
            return
        }
        guard await authenticate(incoming, as: caller, header: .proxyAuthorization, challenge: 407) else { return }
        if request.headers.contains(.replaces) {
            await handleReplaces(incoming, caller: caller)
            return
        }
        let dialed = uri.user ?? ""
        let destination = NumberingPlan(configuration).resolve(dialed)
        switch destination {
        case .user, .service: break
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
        call.maxForwards = hops
        switch destination {
        case .user(let user) where user != dialed:
            call.target = user
            call.path.append(user)
        case .service(let service): call.service = service
        default: break
        }
        calls[key] = call
        logger.info("call", metadata: ["call-id": "\(key)", "from": "\(caller)", "to": "\(dialed)"])
        events.append("call.offered", ["call": .string(key), "caller": .string(caller), "callerName": .optional(call.callerName), "dialed": .string(dialed)])
        await route(call)
    }

    /// Applies the target's features and rings its devices, or ends the call.
    func route(_ call: Call) async {
        if let service = call.service {
            // A media service answers itself: one fork, to the media host.
            call.state = .ringing
            var fork = makeInvite(to: service, callee: call.target, from: call.caller, body: call.offer, contentType: call.offerType)
            fork.request.headers.add(Self.callHeader, call.key)
            fork.request.headers.set(.maxForwards, String(call.maxForwards))
            call.forks = [Call.Fork(request: fork.request, target: fork.target, device: "service:\(service.rawValue)")]
            startFork(call, index: 0)
            return
        }
        let features = (try? store.features(call.target)) ?? Features(extensionNumber: call.target)
        if let destination = features.forwardAlways, call.hops < 5 {
            await retarget(call, to: destination, reason: "forwardAlways")
            return
        }
        if features.doNotDisturb {
            await finish(call, status: 486, reason: "Busy Here (Do Not Disturb)", outcome: "busy")
            return
        }
        var bindings = registrar.lookup(call.target, now: now())
        if let device = features.selectedDevice {
            let selected = bindings.filter { $0.deviceName == device }
            if !selected.isEmpty { bindings = selected }
        }
        guard !bindings.isEmpty else {
            if let destination = features.forwardNoAnswer, call.hops < 5 {
                await retarget(call, to: destination, reason: "forwardNoAnswer")
            } else {
                await finish(call, status: 480, reason: "Temporarily Unavailable (\(call.target) is not registered)", outcome: "unavailable")
            }
            return
        }
        call.state = .ringing
        call.forks = bindings.map { makeFork(call, binding: $0) }
        events.append("call.ringing", ["call": .string(call.key), "caller": .string(call.caller), "callee": .string(call.target),
                                       "devices": .array(call.forks.map { .string($0.device) })])
        for index in call.forks.indices { startFork(call, index: index) }
        let ring = features.noAnswerSeconds ?? configuration.ringTimeout
        call.noAnswer?.cancel()
        let key = call.key, target = call.target
        call.noAnswer = after(seconds: ring) { server in
            Task { await server.ringTimedOut(key, target: target) }
        }
    }

    func retarget(_ call: Call, to destination: String, reason: String) async {
        guard configuration.user(destination) != nil else {
            await finish(call, status: 404, reason: "Forwarding target \(destination) does not exist", outcome: "notFound")
            return
        }
        call.hops += 1
        call.path += [reason, destination]
        events.append("call.forwarded", ["call": .string(call.key), "from": .string(call.target), "to": .string(destination), "reason": .string(reason)])
        call.target = destination
        if !call.provisionalSent, let invite = call.invite {
            var forwarding = SIPResponse(replyingTo: invite.request, statusCode: 181, toTag: call.toTag)
            forwarding.headers.add(.contact, await serverContact(invite.origin.kind))
            try? await stack.respond(forwarding, to: invite)
        }
        await route(call)
    }

    func makeFork(_ call: Call, binding: Binding) -> Call.Fork {
        var fork = makeInvite(to: binding, callee: call.target, from: call.caller, body: call.offer, contentType: call.offerType)
        fork.request.headers.add(Self.callHeader, call.key)
        fork.request.headers.set(.maxForwards, String(call.maxForwards))
        return Call.Fork(request: fork.request, target: fork.target, device: binding.deviceName)
    }

    /// Names the call (its CTI id) on the INVITEs sent to devices, so a phone can ask for call
    /// control (transfer, consult, redirect) on the call it is ringing or in.
    static let callHeader = HeaderName("X-Holdfast-Call")

    /// An INVITE from `from` (identity from the directory, never from what a caller claimed:
    /// RFC 3325 P-Asserted-Identity) to one registered device of `callee`.
    func makeInvite(to binding: Binding, callee: String, from: String, body: [UInt8], contentType: MediaType?) -> (request: SIPRequest, target: SIPTarget) {
        (makeInvite(uri: binding.contact.uri, callee: callee, from: from, routes: binding.path, body: body, contentType: contentType), binding.requestTarget)
    }

    /// An INVITE from `from` to a media service (the numbering plan sent the call there, or a
    /// held party is given music).
    func makeInvite(to service: MediaService, callee: String, from: String, body: [UInt8], contentType: MediaType?) -> (request: SIPRequest, target: SIPTarget) {
        let uri = SIPURI(user: service.rawValue, host: mediaTarget.host, port: mediaTarget.port)
        return (makeInvite(uri: .sip(uri), callee: callee, from: from, routes: [], body: body, contentType: contentType), mediaTarget)
    }

    private func makeInvite(uri: URI, callee: String, from: String, routes: [String], body: [UInt8], contentType: MediaType?) -> SIPRequest {
        var headers = SIPHeaders()
        let domain = configuration.domain
        let identity = NameAddress(displayName: configuration.user(from)?.name, uri: SIPURI(user: from, host: domain))
        var fromHeader = identity
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

    func startFork(_ call: Call, index: Int) {
        let generation = call.forkGeneration
        Task {
            var request = call.forks[index].request
            let target = call.forks[index].target
            request.headers.add(.contact, await serverContact(target.kind))
            // Kept as sent (with its Via branch), so a CANCEL of this fork matches it.
            request = await stack.prepared(request, for: target)
            call.forks[index].request = request
            do {
                for try await response in await stack.send(request, to: target) {
                    await forkResponse(call.key, generation: generation, index: index, request: request, target: target, response: response)
                    if response.isFinal && !response.isSuccess { break }
                }
            } catch {
                await forkFailed(call.key, generation: generation, index: index, status: 408)
            }
        }
    }

    func serverContact(_ kind: SIPTransportKind) async -> String {
        (await serverContactAddress(kind)).description
    }

    /// Our Contact on a leg over `kind`: the address and port we listen on, with `transport=tcp`
    /// over TCP, so a device's in-dialog requests (BYE above all) come back over the leg's transport.
    func serverContactAddress(_ kind: SIPTransportKind) async -> NameAddress {
        let local = await stack.localHostPort(kind) ?? (configuration.listen.host, configuration.listen.port)
        var uri = SIPURI(user: "pbx", host: local.host, port: local.port)
        if kind == .tcp { uri.parameters.set("transport", raw: "tcp") }
        return NameAddress(uri: uri)
    }

    func forkResponse(_ key: String, generation: Int, index: Int, request forkRequest: SIPRequest, target: SIPTarget, response: SIPResponse) async {
        guard let call = calls[key], call.forkGeneration == generation, index < call.forks.count else {
            // The call was answered elsewhere, forwarded or ended while this device rang, and its
            // 200 crossed our CANCEL: the device is in a call with nobody, so ACK and hang it up.
            if response.isSuccess { await hangUpLateAnswer(forkRequest, response: response, target: target) }
            return
        }
        switch response.statusCode {
        case 100:
            return
        case 101..<200:
            // A call placed through CTI has nothing to relay to: its originator already answered.
            guard call.state == .ringing, let invite = call.invite else { return }
            var relay = SIPResponse(replyingTo: invite.request, statusCode: response.statusCode, reasonPhrase: response.reasonPhrase, toTag: call.toTag)
            relay.headers.add(.contact, await serverContact(invite.origin.kind))
            if !response.body.isEmpty { relay.setBody(response.body, contentType: response.contentType ?? .sdp) }
            call.provisionalSent = true
            try? await stack.respond(relay, to: invite)
        case 200..<300:
            // The answer of this very device again (our ACK was late or lost): ACK it again, the
            // call goes on (§13.2.2.4).
            if call.state != .ringing, var answered = call.calleeDialog, answered.id == DialogID.forResponse(response) {
                // Late offer: the ACK waits for the caller's, which carries the answer.
                if call.pendingACK[.caller] != nil { return }
                try? await stack.sendStateless(answered.makeRequest(.ack, ackFor: forkRequest.cseq?.sequence), to: target)
                return
            }
            let contact = await serverContactAddress(target.kind)
            let callerContact = await serverContactAddress(call.invite?.origin.kind ?? .udp)
            guard call.state == .ringing, var calleeDialog = Dialog(uacFor: forkRequest, response: response, localContact: contact) else {
                // A second device answered too late, or the call is over: ACK and hang that one up.
                await hangUpLateAnswer(forkRequest, response: response, target: target)
                return
            }
            // Every change to the call first, then the messages: a request that arrives on either
            // leg while they go out (a REFER crossing our ACK) finds both dialogs.
            call.state = .answered
            call.answeredAt = Date()
            call.noAnswer?.cancel()
            call.forks[index].finished = true
            let calleeTarget = call.forks[index].target
            // Late offer (RFC 3261 §13.2.1): the callee's 200 made the offer; its ACK carries the
            // caller's answer, from the caller's ACK.
            let lateOffer = call.offer.isEmpty && call.invite != nil
            if lateOffer {
                call.pendingACK[.caller] = forkRequest.cseq?.sequence ?? 1
                awaitConfirmation(call, .callee)
            }
            call.calleeDialog = calleeDialog
            call.calleeTarget = calleeTarget
            call.device[.callee] = call.forks[index].device
            call.sdpTo[.callee] = call.offer
            call.sdpFrom[.callee] = response.body
            call.sdpTo[.caller] = response.body
            dialogs[calleeDialog.id] = (call.key, .callee)
            var ok: SIPResponse?
            if let invite = call.invite {
                // 200 OK to the caller with the callee's SDP and who answered (connected identity).
                var answer = SIPResponse(replyingTo: invite.request, statusCode: 200, toTag: call.toTag)
                answer.headers.add(.contact, callerContact.description)
                answer.headers.add(.allow, Self.allow)
                answer.headers.add(.supported, Self.supported)
                answer.headers.add(.pAssertedIdentity, NameAddress(displayName: configuration.user(call.target)?.name, uri: SIPURI(user: call.target, host: configuration.domain)).description)
                if !response.body.isEmpty { answer.setBody(response.body, contentType: response.contentType ?? .sdp) }
                if let callerDialog = Dialog(uasFor: invite.request, localTag: call.toTag, localContact: callerContact, confirmed: true) {
                    call.callerDialog = callerDialog
                    dialogs[callerDialog.id] = (call.key, .caller)
                }
                awaitConfirmation(call, .caller)
                ok = answer
            }
            events.append("call.answered", ["call": .string(call.key), "caller": .string(call.caller), "callee": .string(call.target),
                                            "device": .string(call.forks[index].device)])
            if !lateOffer {
                try? await stack.sendStateless(calleeDialog.makeRequest(.ack, ackFor: forkRequest.cseq?.sequence), to: calleeTarget)
            }
            await cancelOtherForks(call, except: index)
            guard let invite = call.invite, let ok else {
                // Placed through CTI: the originator's ACK carries the callee's answer.
                await acknowledgeOriginator(call, answer: response.body, contentType: response.contentType)
                return
            }
            try? await stack.respond(ok, to: invite)
            retransmitUntilACK(ok, call: call)
        default:
            await forkFailed(key, generation: generation, index: index, status: response.statusCode, reason: response.reasonPhrase,
                             headers: Self.relayedFailureHeaders(response))
        }
    }

    /// RFC 3261 §15 (and §9.1: a 200 may cross a CANCEL): a 2xx nobody wants is still ACKed,
    /// then ended with BYE.
    func hangUpLateAnswer(_ forkRequest: SIPRequest, response: SIPResponse, target: SIPTarget) async {
        guard var late = Dialog(uacFor: forkRequest, response: response, localContact: await serverContactAddress(target.kind)) else { return }
        logger.info("a late answer is hung up", metadata: ["call": "\(forkRequest.callID ?? "")", "status": "\(response.statusCode)"])
        var ack = late.makeRequest(.ack, ackFor: forkRequest.cseq?.sequence)
        // A 200 that made an offer (our INVITE had none) gets an answer refusing every stream.
        if forkRequest.body.isEmpty && !response.body.isEmpty { ack.setBody(SessionText.rejecting(response.body), contentType: .sdp) }
        try? await stack.sendStateless(ack, to: target)
        _ = await stack.send(late.makeRequest(.bye), to: target)
    }

    /// What a failure relayed to the caller keeps of the device's answer: why (Warning, RFC 3261
    /// §20.43) and when to try again.
    static func relayedFailureHeaders(_ response: SIPResponse) -> [(HeaderName, String)] {
        [HeaderName.warning, .retryAfter, .unsupported].flatMap { name in response.headers.values(name).map { (name, $0) } }
    }

    func forkFailed(_ key: String, generation: Int, index: Int, status: Int, reason: String? = nil, headers: [(HeaderName, String)] = []) async {
        guard let call = calls[key], call.state == .ringing, call.forkGeneration == generation, index < call.forks.count else { return }
        call.forks[index].finished = true
        call.forks[index].status = status
        call.forks[index].reason = reason
        call.forks[index].headers = headers
        guard call.forks.allSatisfy(\.finished) else { return }
        // Every device failed: busy everywhere → "When I am on the phone"; else the best failure.
        let statuses = call.forks.compactMap(\.status)
        call.noAnswer?.cancel()
        if statuses.contains(486) || statuses.contains(600) {
            if let destination = (try? store.features(call.target))?.forwardBusy, call.hops < 5 {
                call.state = .routing
                await retarget(call, to: destination, reason: "forwardBusy")
                return
            }
            await finish(call, status: 486, reason: "Busy Here", outcome: "busy")
            return
        }
        let best = call.forks.filter { $0.status != nil }.min { rank($0.status!) < rank($1.status!) }
        let status = best?.status ?? 480
        await finish(call, status: status == 487 ? 480 : status, reason: status == 487 ? nil : best?.reason, outcome: "rejected",
                     headers: best?.headers ?? [])
    }

    /// §16.7 step 6 style preference among failures: 6xx, then 486, then others by class.
    func rank(_ status: Int) -> Int {
        switch status {
        case 600..<700: return 0
        case 486: return 1
        case 400..<500: return 2 + status
        default: return 1000 + status
        }
    }

    func ringTimedOut(_ key: String, target: String) async {
        guard let call = calls[key], call.state == .ringing, call.target == target else { return }
        if let destination = (try? store.features(call.target))?.forwardNoAnswer, call.hops < 5 {
            // Routing on before the CANCELs go: the 487s they bring back belong to this ringing,
            // not to the call (else the first would end the call before it is forwarded).
            call.state = .routing
            call.forkGeneration += 1
            await cancelOtherForks(call, except: nil)
            await retarget(call, to: destination, reason: "forwardNoAnswer")
        } else {
            await cancelOtherForks(call, except: nil)
            await finish(call, status: 480, reason: "Temporarily Unavailable (no answer)", outcome: "noAnswer")
        }
    }

    func cancelOtherForks(_ call: Call, except index: Int?) async {
        for i in call.forks.indices where i != index && !call.forks[i].finished {
            call.forks[i].finished = true
            _ = await stack.cancel(call.forks[i].request, to: call.forks[i].target)
        }
    }

    func callerCancelled(_ invite: SIPRequest) async {
        guard let key = invite.callID, let call = calls[key], call.state == .ringing || call.state == .routing else { return }
        call.noAnswer?.cancel()
        await cancelOtherForks(call, except: nil)
        // The stack already answered the CANCEL (200) and the INVITE (487).
        writeRecord(call, outcome: "cancelled")
        calls[key] = nil
    }

    /// Ends an unanswered call with a final response to the caller and writes its CDR.
    func finish(_ call: Call, status: Int, reason: String?, outcome: String, headers: [(HeaderName, String)] = []) async {
        call.state = .ended
        call.noAnswer?.cancel()
        call.originating?.cancel()
        // The record is durable before the caller learns the outcome: a crash right after the reply loses nothing.
        writeRecord(call, outcome: outcome)
        await store.durable()
        if let invite = call.invite {
            var response = SIPResponse(replyingTo: invite.request, statusCode: status, reasonPhrase: reason, toTag: call.toTag)
            for (name, value) in headers { response.headers.add(name, value) }
            try? await stack.respond(response, to: invite)
        } else {
            await releaseOriginator(call, reason: "\(status) \(reason ?? "")")
        }
        calls[call.key] = nil
    }

    func writeRecord(_ call: Call, outcome: String) {
        let record = CallRecord(callID: call.key, caller: call.caller, callerName: call.callerName, dialed: call.dialed, callee: call.target,
                                startedAt: call.startedAt, answeredAt: call.answeredAt, endedAt: Date(), outcome: outcome, path: call.path)
        var fields: [String: JSONValue] = ["call": .string(call.key), "caller": .string(call.caller), "callee": .string(call.target), "outcome": .string(outcome)]
        fields["cdr"] = store.append(record).sequence.map(JSONValue.int) ?? .null
        events.append("call.ended", fields)
        // Once this call is gone from the table, someone may be free for a callback.
        if !callbacks.isEmpty { Task { self.serveCallbacks() } }
    }

    /// §13.3.1.4: the 2xx again at T1, 2·T1, … (at most T2 apart) until the ACK cancels it, for 64·T1.
    /// `incoming` is the INVITE answered (the caller's, unless a leg joined later), `side` its leg.
    func retransmitUntilACK(_ response: SIPResponse, call: Call, incoming: IncomingRequest? = nil, side: Call.Side = .caller,
                            interval: Double = 0.5, waited: Double = 0) {
        guard let invite = incoming ?? call.invite, !invite.origin.kind.isReliable, waited < 32 else {
            if waited >= 32 { legConfirmed(call, side) }  // no ACK came: stop holding requests back
            return
        }
        call.retransmitting = side
        call.retransmit = after(seconds: interval) { server in
            guard server.calls[call.key] === call else { return }
            let stack = server.stack
            Task { try? await stack.retransmit(response, to: invite) }
            server.retransmitUntilACK(response, call: call, incoming: invite, side: side, interval: min(interval * 2, 4), waited: waited + interval)
        }
    }

    /// Runs `body` on this server after `seconds`: a timer of the event loop the server runs on
    /// (no task and no thread hop per call for timers that are almost always cancelled).
    func after(seconds: Double, _ body: @escaping @Sendable (isolated CallServer) -> Void) -> Scheduled<Void> {
        stack.transport.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1_000_000_000))) { [weak self] in
            self?.assumeIsolated { body($0) }
        }
    }
}
