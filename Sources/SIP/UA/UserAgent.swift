// A SIP user agent on the transaction runtime: places and answers calls (INVITE/ACK/BYE with
// dialogs), answers OPTIONS, registers, and hands anything else to the application.

import Logging
import SIPCore
import SIPMessage

/// What the application decides about an incoming INVITE.
public enum InviteDecision: Sendable {
    /// Ring for `ringFor` then answer 200 with this body (an SDP answer).
    case answer(body: [UInt8], contentType: MediaType, ringFor: Duration)
    /// Refuse with this status (486 busy, 488 with a Warning, 603 decline).
    case reject(status: Int, reason: String?, headers: [(HeaderName, String)])
    /// Ring (180) until `decide` returns (a person answers or declines, or the caller cancels:
    /// see `inviteCancelled`), then act on what it returns.
    case ring(decide: @Sendable () async -> InviteDecision)
}

public protocol UserAgentDelegate: Sendable {
    func incomingInvite(_ request: SIPRequest) async -> InviteDecision
    /// A request the user agent does not handle itself (REGISTER, MESSAGE, ...): return the response.
    func otherRequest(_ request: SIPRequest) async -> SIPResponse?
    func callEnded(_ dialog: DialogID, byRemote: Bool) async
    func callEstablished(_ dialog: Dialog, request: SIPRequest) async
    /// The ACK for a 2xx we sent (it carries the answer when our 2xx made the offer).
    func acknowledged(_ dialog: DialogID, request: SIPRequest) async
    /// The caller cancelled an INVITE still ringing (the stack has answered 487).
    func inviteCancelled(_ invite: SIPRequest) async
    /// A REFER in a call (RFC 3515): the far end asks this side to call `target`. True accepts it
    /// (the user agent answers 202 and NOTIFYs `100 Trying`; the delegate then calls and reports
    /// the outcome with `transferProgress`); false declines it (603).
    func transferRequested(_ dialog: DialogID, to target: NameAddress, refer: SIPRequest) async -> Bool
}

extension UserAgentDelegate {
    public func otherRequest(_ request: SIPRequest) async -> SIPResponse? { nil }
    public func callEnded(_ dialog: DialogID, byRemote: Bool) async {}
    public func callEstablished(_ dialog: Dialog, request: SIPRequest) async {}
    public func acknowledged(_ dialog: DialogID, request: SIPRequest) async {}
    public func inviteCancelled(_ invite: SIPRequest) async {}
    public func transferRequested(_ dialog: DialogID, to target: NameAddress, refer: SIPRequest) async -> Bool { false }
}

public enum UserAgentError: Error, Sendable, CustomStringConvertible {
    case rejected(Int, String)
    case noDialog
    case failed(String)

    public var description: String {
        switch self {
        case .rejected(let code, let reason): return "call rejected: \(code) \(reason)"
        case .noDialog: return "no such call"
        case .failed(let why): return why
        }
    }
}

/// A call this user agent placed or answered.
public struct CallLeg: Sendable {
    public var dialog: Dialog
    public var target: SIPTarget
    /// The remote session description (SDP) from the 200 or the INVITE.
    public var remoteBody: [UInt8]
    public var finalResponse: SIPResponse?
}

public actor UserAgent {
    public struct Identity: Sendable {
        public var user: String
        public var displayName: String?
        public var domain: String
        public var credentials: DigestAuthenticator?

        public init(user: String, displayName: String? = nil, domain: String, credentials: DigestAuthenticator? = nil) {
            self.user = user
            self.displayName = displayName
            self.domain = domain
            self.credentials = credentials
        }
    }

    public nonisolated let stack: SIPStack
    let identity: Identity
    let delegate: any UserAgentDelegate
    let logger = Logger(label: "holdfast.sip.ua")
    private var dialogs: [DialogID: Dialog] = [:]
    private var targets: [DialogID: SIPTarget] = [:]
    /// Our 2xx responses to INVITEs still waiting for their ACK (§13.3.1.4).
    private var unacknowledged: [DialogID: Task<Void, Never>] = [:]
    private var serveTask: Task<Void, Never>?
    /// INVITEs the caller cancelled while we were still deciding (Call-ID and CSeq).
    private var cancelled: Set<String> = []
    /// INVITEs we sent that have no final response yet, by Call-ID (for CANCEL).
    private var outgoing: [String: (SIPRequest, SIPTarget)] = [:]
    /// REFERs accepted with `Refer-Sub: false` (dialog and CSeq): no NOTIFY for them.
    private var unsubscribedRefers: Set<String> = []
    /// Call-IDs of SUBSCRIBEs sent and not yet answered: a NOTIFY may overtake their 2xx (RFC 6665
    /// §4.1.2.4) and is taken, not refused 481.
    private var subscribing: Set<String> = []

    public init(stack: SIPStack, identity: Identity, delegate: any UserAgentDelegate) {
        self.stack = stack
        self.identity = identity
        self.delegate = delegate
    }

    public func start() async {
        await stack.start()
        guard serveTask == nil else { return }
        let requests = stack.requests
        let strays = stack.strayResponses
        serveTask = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [weak self] in
                    for await incoming in requests {
                        guard let self else { return }
                        Task { await self.handle(incoming) }
                    }
                }
                group.addTask { [weak self] in
                    for await response in strays { await self?.reacknowledge(response) }
                }
            }
        }
    }

    public var activeDialogs: [DialogID] { Array(dialogs.keys) }

    // MARK: - Our Contact

    func contact(_ kind: SIPTransportKind) async -> NameAddress {
        let local = await stack.localHostPort(kind) ?? ("127.0.0.1", 5060)
        var uri = SIPURI(user: identity.user, host: local.host, port: local.port)
        if let parameter = kind.uriParameter { uri.parameters.set("transport", raw: parameter) }
        return NameAddress(uri: uri)
    }

    // MARK: - Placing calls

    /// Places a call: INVITE (answering a digest challenge once if credentials are set), waits for
    /// the final response, ACKs a 2xx, and returns the confirmed call.
    public func call(_ uri: SIPURI, via target: SIPTarget, body: [UInt8], contentType: MediaType = .sdp, callID: String? = nil,
                     headers: [(HeaderName, String)] = [],
                     onProvisional: @escaping @Sendable (SIPResponse) -> Void = { _ in }) async throws -> CallLeg {
        var invite = await makeInitialRequest(.invite, to: uri, kind: target.kind)
        if let callID { invite.headers.set(.callID, callID) }
        for (name, value) in headers { invite.headers.add(name, value) }
        invite.setBody(body, contentType: contentType)
        invite = await stack.prepared(invite, for: target)
        let key = invite.callID ?? ""
        outgoing[key] = (invite, target)
        defer { outgoing[key] = nil }
        var response = try await finalResponse(for: invite, target: target, onProvisional: onProvisional)
        if await authorized(&invite, after: response, target: target) {
            outgoing[key] = (invite, target)
            response = try await finalResponse(for: invite, target: target, onProvisional: onProvisional)
        }
        guard response.isSuccess else { throw UserAgentError.rejected(response.statusCode, response.reasonPhrase) }
        guard var dialog = Dialog(uacFor: invite, response: response, localContact: await contact(target.kind)) else {
            throw UserAgentError.failed("the 200 OK to our INVITE cannot form a dialog (no To tag or Contact)")
        }
        let ack = dialog.makeRequest(.ack, ackFor: invite.cseq?.sequence)
        let next = nextHopTarget(dialog, fallback: target)
        // Known before the ACK leaves: the far end may send a request as soon as it has it.
        dialogs[dialog.id] = dialog
        targets[dialog.id] = next
        try await stack.sendStateless(ack, to: next)
        return CallLeg(dialog: dialog, target: next, remoteBody: response.body, finalResponse: response)
    }

    /// Ends a call with BYE and waits for its answer.
    public func hangUp(_ id: DialogID) async throws {
        guard var dialog = dialogs[id], let target = targets[id] else { throw UserAgentError.noDialog }
        let bye = dialog.makeRequest(.bye)
        dialogs[id] = nil
        targets[id] = nil
        unacknowledged.removeValue(forKey: id)?.cancel()
        let response = try await finalResponse(for: bye, target: target)
        guard response.isSuccess || response.statusCode == 481 else {
            throw UserAgentError.rejected(response.statusCode, response.reasonPhrase)
        }
    }

    /// Sends a new offer in the call (hold, retrieve: RFC 3264 §8.4), ACKs a 2xx, and returns the
    /// final response (its body is the answer).
    public func reinvite(_ id: DialogID, body: [UInt8], contentType: MediaType = .sdp) async throws -> SIPResponse {
        guard var dialog = dialogs[id], let target = targets[id] else { throw UserAgentError.noDialog }
        var invite = dialog.makeRequest(.invite)
        invite.headers.add(.contact, (await contact(target.kind)).description)
        invite.setBody(body, contentType: contentType)
        dialogs[id] = dialog
        let response = try await finalResponse(for: invite, target: target)
        if response.isSuccess, var current = dialogs[id] {
            let ack = current.makeRequest(.ack, ackFor: invite.cseq?.sequence)
            dialogs[id] = current
            try await stack.sendStateless(ack, to: target)
        }
        return response
    }

    /// Sends a request inside the call (INFO with DTMF) and returns its final response.
    public func requestInDialog(_ id: DialogID, _ method: SIPMethod, body: [UInt8], contentType: MediaType) async throws -> SIPResponse {
        guard var dialog = dialogs[id], let target = targets[id] else { throw UserAgentError.noDialog }
        var request = dialog.makeRequest(method)
        request.setBody(body, contentType: contentType)
        dialogs[id] = dialog
        return try await finalResponse(for: request, target: target)
    }

    /// Cancels an INVITE this user agent sent that has no final response yet (its `call` then
    /// ends with 487).
    public func cancelCall(callID: String) async {
        guard let (invite, target) = outgoing[callID] else { return }
        // Done at the CANCEL's final response (its stream lasts until Timer K, 5 s on UDP).
        do { for try await response in await stack.cancel(invite, to: target) where response.isFinal { break } } catch {}
    }

    /// A request challenged (401/407) made again with credentials: a new Via, the next CSeq and
    /// the answer to the challenge. False when there is no challenge or nothing to answer it with.
    private func authorized(_ request: inout SIPRequest, after response: SIPResponse, target: SIPTarget) async -> Bool {
        guard response.statusCode == 401 || response.statusCode == 407,
              let answer = identity.credentials?.answer(response, method: request.method, uri: request.uri.description) else { return false }
        request.headers.remove(.via)
        request.headers.set(.cseq, CSeq((request.cseq?.sequence ?? 1) + 1, request.method).description)
        request.headers.set(answer.0, answer.1)
        request = await stack.prepared(request, for: target)
        return true
    }

    // MARK: - Subscriptions (RFC 6665)

    /// Subscribes to `event` at `uri` (SUBSCRIBE, answering a digest challenge once) and returns
    /// the subscription's dialog with the expiry granted. Its NOTIFYs go to the delegate's
    /// `otherRequest`.
    public func subscribe(event: String, accept: String, to uri: SIPURI, via target: SIPTarget, expires: Int) async throws -> (id: DialogID, expires: Int) {
        var request = await makeInitialRequest(.subscribe, to: uri, kind: target.kind)
        request.headers.add(.event, event)
        request.headers.add(.accept, accept)
        request.headers.add(.expires, String(expires))
        request = await stack.prepared(request, for: target)
        let callID = request.callID ?? ""
        subscribing.insert(callID)
        defer { subscribing.remove(callID) }
        var response = try await finalResponse(for: request, target: target)
        if await authorized(&request, after: response, target: target) {
            response = try await finalResponse(for: request, target: target)
        }
        guard response.isSuccess else { throw UserAgentError.rejected(response.statusCode, response.reasonPhrase) }
        guard let dialog = Dialog(uacFor: request, response: response, localContact: await contact(target.kind)) else {
            throw UserAgentError.failed("the 2xx to our SUBSCRIBE cannot form a dialog (no To tag or Contact)")
        }
        dialogs[dialog.id] = dialog
        targets[dialog.id] = nextHopTarget(dialog, fallback: target)
        return (dialog.id, Int(response.expires ?? UInt32(expires)))
    }

    /// Refreshes a subscription in its dialog (`expires` 0 ends it); the expiry granted.
    public func refreshSubscription(_ id: DialogID, event: String, expires: Int) async throws -> Int {
        guard var dialog = dialogs[id], let target = targets[id] else { throw UserAgentError.noDialog }
        var request = dialog.makeRequest(.subscribe)
        request.headers.add(.event, event)
        request.headers.add(.expires, String(expires))
        dialogs[id] = dialog
        let response = try await finalResponse(for: request, target: target)
        guard response.isSuccess else {
            dialogs[id] = nil
            targets[id] = nil
            throw UserAgentError.rejected(response.statusCode, response.reasonPhrase)
        }
        if expires == 0 {
            dialogs[id] = nil
            targets[id] = nil
        }
        return Int(response.expires ?? UInt32(expires))
    }

    /// Sends a request outside a dialog (OPTIONS, MESSAGE) and returns its final response.
    public func request(_ method: SIPMethod, to uri: SIPURI, via target: SIPTarget) async throws -> SIPResponse {
        let request = await makeInitialRequest(method, to: uri, kind: target.kind)
        return try await finalResponse(for: request, target: target)
    }

    func makeInitialRequest(_ method: SIPMethod, to uri: SIPURI, kind: SIPTransportKind) async -> SIPRequest {
        var headers = SIPHeaders()
        var from = NameAddress(displayName: identity.displayName, uri: SIPURI(user: identity.user, host: identity.domain))
        from.tag = BranchGenerator.make().dropFirst(7).description
        headers.add(.from, from.description)
        headers.add(.to, NameAddress(uri: uri).description)
        headers.add(.callID, BranchGenerator.make().dropFirst(7) + "@" + identity.domain)
        headers.add(.cseq, CSeq(1, method).description)
        headers.add(.contact, (await contact(kind)).description)
        headers.add(.allow, "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY")
        headers.add(.userAgent, "Holdfast")
        return SIPRequest(method: method, uri: .sip(uri), headers: headers)
    }

    func finalResponse(for request: SIPRequest, target: SIPTarget,
                       onProvisional: @escaping @Sendable (SIPResponse) -> Void = { _ in }) async throws -> SIPResponse {
        for try await response in await stack.send(request, to: target) {
            if response.isFinal { return response }
            onProvisional(response)
        }
        throw UserAgentError.failed("the \(request.method) transaction ended without a final response")
    }

    func nextHopTarget(_ dialog: Dialog, fallback: SIPTarget) -> SIPTarget {
        guard case .sip(let uri) = dialog.nextHop else { return fallback }
        var target = SIPTarget(uri: uri)
        if uri.transport == nil { target.kind = fallback.kind }
        return target
    }

    // MARK: - Serving requests

    private func handle(_ incoming: IncomingRequest) async {
        let request = incoming.request
        if let invite = incoming.cancelledInvite {
            logger.debug("call cancelled", metadata: ["call-id": "\(invite.callID ?? "")"])
            cancelled.insert(Self.inviteKey(invite))
            await delegate.inviteCancelled(invite)
            return
        }
        // In-dialog requests.
        if let id = DialogID.forIncoming(request) {
            await handleInDialog(incoming, id: id)
            return
        }
        switch request.method {
        case .ack:
            return  // an ACK for a dialog we do not know: drop (§17.2.3)
        case .options:
            var ok = SIPResponse(replyingTo: request, statusCode: 200, toTag: tag())
            ok.headers.add(.allow, "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY")
            ok.headers.add(.accept, "application/sdp")
            ok.headers.add(.supported, "replaces")
            try? await stack.respond(ok, to: incoming)
        case .invite:
            await handleInvite(incoming)
        case .bye:
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481, toTag: tag()), to: incoming)
        default:
            if let response = await delegate.otherRequest(request) {
                try? await stack.respond(response, to: incoming)
            } else {
                var refused = SIPResponse(replyingTo: request, statusCode: 405, toTag: tag())
                refused.headers.add(.allow, "INVITE, ACK, CANCEL, BYE, OPTIONS")
                try? await stack.respond(refused, to: incoming)
            }
        }
    }

    private func handleInvite(_ incoming: IncomingRequest) async {
        let request = incoming.request
        if let rejection = request.uasRejection() {
            try? await stack.respond(rejection, to: incoming)
            return
        }
        let toTag = tag()
        var decision = await delegate.incomingInvite(request)
        let localContact = await contact(incoming.origin.kind)
        var rang = false
        if case .ring(let decide) = decision {
            rang = true
            var ringing = SIPResponse(replyingTo: request, statusCode: 180, toTag: toTag)
            ringing.headers.add(.contact, localContact.description)
            try? await stack.respond(ringing, to: incoming)
            decision = await decide()
            // The stack already answered a CANCEL with 487 (§9.2): nothing more to send.
            if cancelled.remove(Self.inviteKey(request)) != nil { return }
        }
        switch decision {
        case .ring:
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 500, reasonPhrase: "No decision", toTag: toTag), to: incoming)
        case .reject(let status, let reason, let headers):
            var response = SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: reason, toTag: toTag)
            for (name, value) in headers { response.headers.add(name, value) }
            try? await stack.respond(response, to: incoming)
        case .answer(let body, let contentType, let ringFor):
            if !rang {
                var ringing = SIPResponse(replyingTo: request, statusCode: 180, toTag: toTag)
                ringing.headers.add(.contact, localContact.description)
                try? await stack.respond(ringing, to: incoming)
            }
            if ringFor > .zero { try? await Task.sleep(for: ringFor) }
            // The stack already answered a CANCEL with 487 (§9.2): nothing more to send.
            if cancelled.remove(Self.inviteKey(request)) != nil { return }
            var ok = SIPResponse(replyingTo: request, statusCode: 200, toTag: toTag)
            for route in request.headers.values(.recordRoute) { ok.headers.add(.recordRoute, route) }
            ok.headers.add(.contact, localContact.description)
            ok.setBody(body, contentType: contentType)
            guard let dialog = Dialog(uasFor: request, localTag: toTag, localContact: localContact, confirmed: true) else {
                try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 400, reasonPhrase: "INVITE without From tag or Contact", toTag: toTag), to: incoming)
                return
            }
            dialogs[dialog.id] = dialog
            targets[dialog.id] = nextHopTarget(dialog, fallback: SIPTarget(kind: incoming.origin.kind, address: incoming.origin.source))
            try? await stack.respond(ok, to: incoming)
            retransmitUntilACK(ok, incoming: incoming, dialog: dialog.id)
            await delegate.callEstablished(dialog, request: request)
        }
    }

    /// §13.3.1.4: the UAS core retransmits its 2xx (T1 doubling to T2) until the ACK arrives.
    private func retransmitUntilACK(_ response: SIPResponse, incoming: IncomingRequest, dialog: DialogID) {
        guard !incoming.origin.kind.isReliable else { return }
        let stack = self.stack
        unacknowledged[dialog] = Task {
            var interval = Duration.milliseconds(500)
            var waited = Duration.zero
            while waited < .seconds(32) {
                do { try await Task.sleep(for: interval) } catch { return }
                waited += interval
                try? await stack.retransmit(response, to: incoming)
                interval = min(interval * 2, .seconds(4))
            }
        }
    }

    private func handleInDialog(_ incoming: IncomingRequest, id: DialogID) async {
        let request = incoming.request
        guard var dialog = dialogs[id] else {
            // The first NOTIFY of a subscription may come before the SUBSCRIBE's 2xx.
            if request.method == .notify, subscribing.contains(request.callID ?? "") {
                let response = await delegate.otherRequest(request) ?? SIPResponse(replyingTo: request, statusCode: 200)
                try? await stack.respond(response, to: incoming)
                return
            }
            if request.method != .ack {
                try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481, toTag: nil), to: incoming)
            }
            return
        }
        switch dialog.receive(request) {
        case .reject(let status, let reason):
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: reason), to: incoming)
            return
        case .accept:
            dialogs[id] = dialog
        }
        switch request.method {
        case .ack:
            unacknowledged.removeValue(forKey: id)?.cancel()
            await delegate.acknowledged(id, request: request)
        case .bye:
            unacknowledged.removeValue(forKey: id)?.cancel()
            dialogs[id] = nil
            targets[id] = nil
            // Answered first: the delegate may stop the program (as `holdfast sip answer` does).
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 200), to: incoming)
            await delegate.callEnded(id, byRemote: true)
        case .refer:
            await handleRefer(incoming, id: id)
        default:
            if let response = await delegate.otherRequest(request) {
                try? await stack.respond(response, to: incoming)
            } else {
                try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 200), to: incoming)
            }
        }
    }

    // MARK: - Transfer (RFC 3515)

    private func handleRefer(_ incoming: IncomingRequest, id: DialogID) async {
        let request = incoming.request
        let values = request.headers.values(.referTo)
        guard values.count == 1, let target = try? NameAddress(values[0]) else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 400, reasonPhrase: "REFER needs exactly one Refer-To"), to: incoming)
            return
        }
        guard case .sip = target.uri else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 416, reasonPhrase: "Refer-To must be a SIP URI"), to: incoming)
            return
        }
        guard await delegate.transferRequested(id, to: target, refer: request) else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 603, reasonPhrase: "Decline (transfer not accepted)"), to: incoming)
            return
        }
        let sequence = request.cseq?.sequence ?? 0
        // RFC 4488: the referrer may ask for no implicit subscription (no NOTIFYs).
        let subscribed = request.headers[HeaderName("Refer-Sub")]?.lowercased() != "false"
        var accepted = SIPResponse(replyingTo: request, statusCode: 202)
        if !subscribed {
            accepted.headers.add(HeaderName("Refer-Sub"), "false")
            unsubscribedRefers.insert("\(id)|\(sequence)")
        }
        try? await stack.respond(accepted, to: incoming)
        await transferProgress(id, refer: sequence, status: 100, reason: "Trying")
    }

    /// Reports how the call a REFER asked for is going, as a NOTIFY with `message/sipfrag` (RFC
    /// 3515 §2.4.4); a final status ends the implicit subscription. Nothing is sent when the
    /// call that carried the REFER has already ended.
    public func transferProgress(_ id: DialogID, refer sequence: UInt32, status: Int, reason: String) async {
        let key = "\(id)|\(sequence)"
        let final = status >= 200
        if unsubscribedRefers.contains(key) {
            if final { unsubscribedRefers.remove(key) }
            return
        }
        guard var dialog = dialogs[id], let target = targets[id] else { return }
        var notify = dialog.makeRequest(.notify)
        notify.headers.add(.event, "refer;id=\(sequence)")
        notify.headers.add(.subscriptionState, final ? "terminated;reason=noresource" : "active;expires=60")
        notify.setBody(Array("SIP/2.0 \(status) \(reason)\r\n".utf8), contentType: (try? MediaType("message/sipfrag;version=2.0")) ?? .sipfrag)
        dialogs[id] = dialog
        _ = try? await finalResponse(for: notify, target: target)
    }

    /// A retransmitted 2xx for a call we already ACKed: ACK it again (§13.2.2.4).
    private func reacknowledge(_ response: SIPResponse) async {
        guard let id = DialogID.forResponse(response), var dialog = dialogs[id], let target = targets[id] else { return }
        let ack = dialog.makeRequest(.ack, ackFor: response.cseq?.sequence)
        try? await stack.sendStateless(ack, to: target)
    }

    static func inviteKey(_ invite: SIPRequest) -> String { "\(invite.callID ?? "")|\(invite.cseq?.sequence ?? 0)" }

    private func tag() -> String { String(BranchGenerator.make().dropFirst(7)) }
}
