// One call through the B2BUA: the caller's leg and the callee's leg. The caller's leg is usually
// an INVITE we answer (we are its UAS); for a call placed through CTI (click-to-dial), or after a
// transfer, it is a dialog we started ourselves (we are its UAC).

import Foundation
import MediaServices
import SIP
import SIPCore
import NIOCore
import SIPMessage
import Wire

final class Call: @unchecked Sendable {
    // @unchecked: a Call is only touched inside the CallServer actor.
    enum Side: Sendable { case caller, callee }

    /// Key: the caller leg's Call-ID (or one of ours for calls placed through CTI).
    let key: String
    /// The caller's INVITE, when the caller called in; nil for calls placed through CTI.
    let invite: IncomingRequest?
    let toTag = CallServer.newTag()
    var caller: String
    var callerName: String?
    let dialed: String
    let startedAt = Date()
    /// Its phase, as a value machine (CallLife.swift): every change is an event.
    var life: CallLife
    var state: CallLife.Phase { life.phase }
    /// The extension being rung now (after forwarding), then the one connected.
    var target: String
    var path: [String]
    var hops = 0
    /// The ringing of the target's devices now (RingingDriver.swift); a new one at each
    /// forwarding, so responses to an earlier one's INVITEs are not its.
    var ringing: RingRound?
    var callerDialog: Dialog?
    var calleeDialog: Dialog?
    var callerTarget: SIPTarget?
    var calleeTarget: SIPTarget?
    /// The session description the callee is offered (the caller's).
    var offer: [UInt8] = []
    var offerType: MediaType?
    /// For calls placed through CTI: the CSeq of the originator's answered INVITE, whose ACK
    /// carries the callee's answer (RFC 3725 flow I).
    var pendingCallerACK: UInt32?
    /// The last SDP each side sent, and the last SDP each side was given (for re-offers that
    /// continue its view of the session: same o= origin, next version).
    var sdpFrom: [Side: [UInt8]] = [:]
    var sdpTo: [Side: [UInt8]] = [:]
    /// The device each side uses (for CTI and events).
    var device: [Side: String] = [:]
    /// Sides put on hold through CTI.
    var heldBy: Set<Side> = []
    /// The task ringing the originator's devices (click-to-dial), cancelled by `clear`.
    var originating: Task<Void, Never>?
    /// For a consultation call: the call it consults from (held meanwhile).
    var consultationOf: String?
    var answeredAt: Date?
    var provisionalSent = false
    /// Max-Forwards for the requests this call sends on (the caller's, less one: RFC 7332).
    var maxForwards = 70
    /// The media service that answers the call, when the numbering plan sent it to one.
    var service: MediaService?
    /// What the voicemail service is asked, when the call goes there.
    var voicemail: VoicemailRequest?
    /// The meet-me room the call is for (its service is the conference).
    var conferenceRoom: String?
    /// What the announcement service says (prompt names), when the call goes there.
    var announcement: [String] = []
    /// A call to an ACD path: its path, and the agent it is offered to or connected with.
    struct ACDState {
        var path: String
        var agent: String?
        /// The ringing of the agent offered the call (cancelled to withdraw the offer).
        var offer: Task<Void, Never>?
        /// The agent's device that answered, until the contact center says whether it is the call's.
        var reached: [String: CallServer.Reached] = [:]
        var connected = false
        /// The caller's standing as its queue service last heard it, and when.
        var announced: (status: QueueStatus, at: Double)?
    }
    var acd: ACDState?
    /// Agents whose phone is in this call, which is not an ACD call: no ACD offer while it lasts.
    var agentsOnOtherCall: [String] = []
    /// Tasks waiting for the caller to be answered (an ACD offer answered before the queue's music
    /// answered the caller).
    var answeredWaiters: [CheckedContinuation<Void, Never>] = []
    /// Music for a party held through the server: its leg with the music-on-hold service.
    var music: [Side: ServiceLeg] = [:]
    /// In an ad-hoc conference: each side's leg with the conference service, and the room.
    /// A side in a conference talks to its leg, not to the other side.
    var conferenceLegs: [Side: ServiceLeg] = [:]
    var adHocRoom: String?
    /// A conference is being built from this call (its legs move one by one, across awaits).
    var conferencing = false
    /// REFERs relayed to a leg, by the CSeq they carry there, to the CSeq of the REFER as it came
    /// from the other side: the NOTIFYs they bring back name the sender's REFER (RFC 3515 §2.4.6).
    var referIDs: [Side: [UInt32: UInt32]] = [:]
    /// A blind transfer through CTI under way (its target or its recall ringing); cancelled when
    /// the call ends, so nothing rings for a party gone.
    var transferring: Task<Void, Never>?
    /// Hold recall (Recall.swift), its timer, and the ringing of the holder's devices.
    var holdRecall = HoldRecall()
    var holdRecallTimer: Scheduled<Void>?
    var holdRecallRinging: Task<Void, Never>?
    /// A call a phone's own blind transfer (REFER) placed: the transferrer it comes back to when
    /// its target does not answer in the recall time; `recall` once it has.
    var recallTo: String?
    var recall: RecallMark?
    /// Parked (ParkDriver.swift): the side that waits in a slot (the other side's leg is gone or
    /// going), the park timer, the parker's announcement leg, and the REFER that asked for it.
    var parkedSide: Side?
    var parkTimer: Scheduled<Void>?
    var parkRecall: Task<Void, Never>?
    var parkAnnouncement: ServiceLeg?
    var parkRefer: UInt32?
    /// A call for the attendant: why it came (`direct`, or the forwarding that sent it).
    var attendantReason: String?
    /// The consoles rung for it, by device: the one that answers becomes the call's callee.
    var attendantDevices: [String: String] = [:]
    /// Digits each side keyed by SIP INFO lately (the last few), for in-call feature codes.
    var keyed: [Side: String] = [:]
    /// Each leg's confirmation, owed answer and REFERs in flight, as a value machine (Leg.swift).
    var legs: [Side: Leg] = [:]
    /// Per leg, its 2xx's next retransmission or its 64·T1 limit, whichever runs (Leg actions).
    var ackTimers: [Side: Scheduled<Void>] = [:]
    /// Requests for a leg held back until its ACK, and NOTIFYs until its REFERs are answered.
    var heldRequests: [Side: [CheckedContinuation<Void, Never>]] = [:]
    var heldNotifies: [Side: [CheckedContinuation<Void, Never>]] = [:]

    init(key: String, invite: IncomingRequest?, caller: String, callerName: String?, dialed: String) {
        self.key = key
        self.invite = invite
        self.caller = caller
        self.callerName = callerName
        self.dialed = dialed
        self.target = dialed
        self.path = [dialed]
        life = CallLife(inbound: invite != nil)
        if let invite {
            callerTarget = SIPTarget(kind: invite.origin.kind, address: invite.origin.source)
            offer = invite.request.body
            offerType = invite.request.contentType
            if !invite.request.body.isEmpty { sdpFrom[.caller] = invite.request.body }
        }
    }

    var callerKind: SIPTransportKind { callerTarget?.kind ?? .udp }

    func party(_ side: Side) -> String { side == .caller ? caller : target }

    func side(of party: String) -> Side? {
        if party == caller { return .caller }
        if party == target { return .callee }
        return nil
    }

    /// `party` now holds the call's `side` (a transfer, a consultation completed, a replaced dialog).
    func seat(_ party: String, on side: Side, name: String?) {
        if side == .caller {
            caller = party
            callerName = name
        } else {
            target = party
        }
    }

    func dialog(_ side: Side) -> Dialog? { side == .caller ? callerDialog : calleeDialog }
    func setDialog(_ side: Side, _ dialog: Dialog?) { if side == .caller { callerDialog = dialog } else { calleeDialog = dialog } }
    func legTarget(_ side: Side) -> SIPTarget? { side == .caller ? callerTarget : calleeTarget }
    func setLegTarget(_ side: Side, _ target: SIPTarget?) { if side == .caller { callerTarget = target } else { calleeTarget = target } }
}

extension Call.Side {
    var other: Call.Side { self == .caller ? .callee : .caller }
    var name: String { self == .caller ? "caller" : "callee" }
}
