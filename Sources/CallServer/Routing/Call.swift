// One call through the B2BUA: the caller's leg (we are its UAS) and the callee's leg (we are its UAC).

import Foundation
import SIP
import SIPCore
import SIPMessage

final class Call: @unchecked Sendable {
    // @unchecked: a Call is only touched inside the CallServer actor.
    enum Side: Sendable { case caller, callee }
    enum State { case routing, ringing, answered, ended }

    /// Key: the caller leg's Call-ID.
    let key: String
    let invite: IncomingRequest
    let toTag = CallServer.newTag()
    let caller: String
    let callerName: String?
    let dialed: String
    let startedAt = Date()
    var state = State.routing
    /// The extension being rung now (after forwarding).
    var target: String
    var path: [String]
    var hops = 0
    var forks: [Fork] = []
    var callerDialog: Dialog?
    var calleeDialog: Dialog?
    var calleeTarget: SIPTarget?
    var answeredAt: Date?
    var noAnswer: Task<Void, Never>?
    /// Our 2xx to the caller, retransmitted until the ACK (§13.3.1.4).
    var retransmit: Task<Void, Never>?
    var provisionalSent = false

    /// One INVITE to one of the callee's devices (parallel forking).
    struct Fork {
        var request: SIPRequest
        var target: SIPTarget
        var device: String
        var finished = false
        var status: Int?
    }

    init(key: String, invite: IncomingRequest, caller: String, callerName: String?, dialed: String) {
        self.key = key
        self.invite = invite
        self.caller = caller
        self.callerName = callerName
        self.dialed = dialed
        self.target = dialed
        self.path = [dialed]
    }
}
