// A SIP dialog (RFC 3261 §12): identity, route set, sequence numbers, remote target; building
// in-dialog requests (§12.2.1.1) and checking incoming ones (§12.2.2).

import SIPMessage

public struct DialogID: Sendable, Hashable, CustomStringConvertible {
    public var callID: String
    public var localTag: String
    public var remoteTag: String

    public init(callID: String, localTag: String, remoteTag: String) {
        self.callID = callID
        self.localTag = localTag
        self.remoteTag = remoteTag
    }

    /// The dialog an incoming request belongs to, seen from this side (To tag is ours).
    public static func forIncoming(_ request: SIPRequest) -> DialogID? {
        guard let callID = request.callID, let local = request.to?.tag, let remote = request.from?.tag else { return nil }
        return DialogID(callID: callID, localTag: local, remoteTag: remote)
    }

    /// The dialog a response to our request belongs to (From tag is ours).
    public static func forResponse(_ response: SIPResponse) -> DialogID? {
        guard let callID = response.callID, let local = response.from?.tag, let remote = response.to?.tag else { return nil }
        return DialogID(callID: callID, localTag: local, remoteTag: remote)
    }

    public var description: String { "\(callID);local=\(localTag);remote=\(remoteTag)" }
}

public struct Dialog: Sendable, Hashable {
    public enum State: Sendable, Hashable { case early, confirmed, terminated }

    public var id: DialogID
    public var state: State
    /// Our address (with our tag) and the peer's, as they go in From/To of our requests.
    public var local: NameAddress
    public var remote: NameAddress
    /// Where in-dialog requests go (the peer's Contact), updated by target refreshes.
    public var remoteTarget: URI
    /// Record-Route, in the order our requests use it.
    public var routeSet: [NameAddress]
    public var localSequence: UInt32
    public var remoteSequence: UInt32?
    /// Our Contact for in-dialog requests and target refreshes.
    public var localContact: NameAddress

    /// UAC side (§12.1.2): from a 1xx with a To tag (early) or a 2xx (confirmed).
    public init?(uacFor request: SIPRequest, response: SIPResponse, localContact: NameAddress) {
        guard response.statusCode > 100, response.statusCode < 300,
              let id = DialogID.forResponse(response), let from = request.from, let to = response.to,
              let target = response.contacts.first?.uri ?? (response.isSuccess ? nil : request.uri as URI?)
        else { return nil }
        self.id = id
        self.state = response.isSuccess ? .confirmed : .early
        self.local = from
        self.remote = to
        self.remoteTarget = target
        self.routeSet = response.recordRoutes.reversed()
        self.localSequence = request.cseq?.sequence ?? 1
        self.remoteSequence = nil
        self.localContact = localContact
    }

    /// UAS side (§12.1.1): from the request and the To tag we put in our 1xx/2xx.
    public init?(uasFor request: SIPRequest, localTag: String, localContact: NameAddress, confirmed: Bool) {
        guard let callID = request.callID, let from = request.from, let remoteTag = from.tag, var to = request.to,
              let target = request.contacts.first?.uri
        else { return nil }
        to.tag = localTag
        self.id = DialogID(callID: callID, localTag: localTag, remoteTag: remoteTag)
        self.state = confirmed ? .confirmed : .early
        self.local = to
        self.remote = from
        self.remoteTarget = target
        self.routeSet = request.recordRoutes
        self.localSequence = 0
        self.remoteSequence = request.cseq?.sequence
        self.localContact = localContact
    }

    /// The URI of the next hop for in-dialog requests: the first route, or the remote target.
    public var nextHop: URI {
        routeSet.first?.uri ?? remoteTarget
    }

    /// Builds an in-dialog request (§12.2.1.1). The CSeq goes up by one, except for ACK (which
    /// takes the INVITE's, given as `ackFor`) and CANCEL. The caller's stack adds the Via.
    public mutating func makeRequest(_ method: SIPMethod, ackFor inviteSequence: UInt32? = nil) -> SIPRequest {
        let sequence: UInt32
        if method == .ack, let inviteSequence {
            sequence = inviteSequence
        } else {
            localSequence += 1
            sequence = localSequence
        }
        var headers = SIPHeaders()
        let requestURI: URI
        var routes = routeSet
        if let first = routeSet.first, case .sip(let uri) = first.uri, !uri.parameters.contains("lr") {
            // Strict routing: the first route becomes the Request-URI, the remote target the last Route.
            var stripped = uri
            stripped.parameters = Parameters()
            requestURI = .sip(stripped)
            routes.removeFirst()
            routes.append(NameAddress(uri: remoteTarget))
        } else {
            requestURI = remoteTarget
        }
        headers.add(.maxForwards, "70")
        headers.add(.from, local.description)
        headers.add(.to, remote.description)
        headers.add(.callID, id.callID)
        headers.add(.cseq, CSeq(sequence, method).description)
        for route in routes { headers.add(.route, route.description) }
        if method == .invite || method == .update || method == .refer || method == .notify || method == .subscribe {
            headers.add(.contact, localContact.description)
        }
        return SIPRequest(method: method, uri: requestURI, headers: headers)
    }

    /// What to do with an in-dialog request from the peer.
    public enum RequestVerdict: Sendable, Equatable {
        case accept
        /// Answer with this status: 500 for a CSeq lower than the last one (§12.2.2).
        case reject(Int, String)
    }

    /// Checks and records an incoming in-dialog request: CSeq order (§12.2.2), target refresh
    /// for re-INVITE/UPDATE (§12.2.2), BYE ends the dialog.
    public mutating func receive(_ request: SIPRequest) -> RequestVerdict {
        guard let cseq = request.cseq else { return .reject(400, "Missing CSeq") }
        if request.method != .ack, request.method != .cancel {
            if let last = remoteSequence, cseq.sequence <= last {
                return .reject(500, "CSeq \(cseq.sequence) is not higher than \(last)")
            }
            remoteSequence = cseq.sequence
        }
        if request.method == .invite || request.method == .update, let contact = request.contacts.first {
            remoteTarget = contact.uri
        }
        if request.method == .bye { state = .terminated }
        return .accept
    }

    /// Records a response to our in-dialog request: 2xx to a target refresh updates the remote
    /// target; 481 and 408 end the dialog (§12.2.1.2).
    public mutating func receive(_ response: SIPResponse) {
        if response.statusCode == 481 || response.statusCode == 408 { state = .terminated; return }
        if response.isSuccess {
            if state == .early { state = .confirmed }
            if let method = response.cseq?.method, method == .invite || method == .update,
               let contact = response.contacts.first {
                remoteTarget = contact.uri
            }
        }
    }
}
