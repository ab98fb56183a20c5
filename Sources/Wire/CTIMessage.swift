// The call server's CTI events with their fields, typed once: the call server builds a
// `CTIMessage` and appends it; the collaboration server, a secondary call server and the tests read
// one back from the event's fields. An event's fields are named here and nowhere else.

import Foundation

public enum CTIMessage: Sendable, Equatable {
    case callOffered(call: String, caller: String, callerName: String?, dialed: String)
    case callOriginated(call: String, caller: String, dialed: String)
    case callRinging(call: String, caller: String, callee: String, devices: [String])
    case callForwarded(call: String, from: String, to: String, reason: String)
    case callAnswered(call: String, caller: String, callee: String, device: String)
    case callHeld(call: String, party: String)
    case callRetrieved(call: String, party: String)
    case callConsulting(call: String, consultation: String, party: String, to: String)
    case callTransferring(call: String, party: String, to: String)
    /// `replaced`: the party whose dialog an INVITE with Replaces took over (RFC 3891).
    case callTransferred(call: String, caller: String, callee: String, rebridged: Bool, replaced: String? = nil)
    case callTransferFailed(call: String, to: String, reason: String)
    /// The call comes back to `party` (the transferrer, the holder, the parker): its devices ring,
    /// marked as a recall; `from` is where it was (the transfer's target, the holder, the slot).
    case callRecalled(call: String, party: String, from: String, reason: RecallMark.Reason)
    /// `outcome`: a `CallOutcome`'s raw value; `cdr`: the record's sequence (nil if not stored).
    case callEnded(call: String, caller: String, callee: String, outcome: String, cdr: Int64?)
    case callbackRequested(callback: String, requester: String, target: String)
    case callbackPlaced(callback: String, call: String, requester: String, target: String)
    case callbackExpired(callback: String, requester: String, target: String)
    case devicesChanged(user: String, devices: [String])
    case featuresChanged(user: String, settings: CallSettings)
    /// An ACD agent's state: `status` one of loggedOut, available, makeBusy, offered, onACDCall,
    /// onOtherCall, wrapUp; `reason` for make busy; `device` where it is logged in; in wrap-up,
    /// when its work time ends by itself.
    case agentChanged(agent: String, status: String, reason: String?, device: String?, wrapUpEndsAt: Date? = nil)
    /// An ACD path's queue changed (a caller arrived, was answered, abandoned or left): how many
    /// wait now. Its full figures are `GET /cti/v1/paths`.
    case pathChanged(path: String, waiting: Int)
    /// A source address was banned: its requests are dropped for `seconds`.
    case securityBanned(address: String, reason: String, seconds: Int)
    /// A mailbox changed: messages new (unheard) and old.
    case messageWaiting(user: String, new: Int, old: Int)
    /// A participant (by its call) came into a meet-me room, or left it.
    case conferenceJoined(room: String, participant: String)
    case conferenceLeft(room: String, participant: String)
    /// A participant began or stopped talking.
    case conferenceTalking(room: String, participant: String, talking: Bool)
    /// A hot-desk user logged in at `device` (nil: logged out); `previous`, the device it left
    /// (logged in elsewhere, or out): that phone is told.
    case hotDeskChanged(user: String, device: String?, previous: String?)
    /// A park slot took a call (`call`, `parker`) or was emptied (both nil: retrieved, recalled,
    /// or its caller hung up).
    case parkChanged(slot: String, call: String?, parker: String?)
    /// A user's phone went on duty as a desktop console, or off.
    case consoleChanged(user: String, active: Bool)

    public var event: CTIEvent {
        switch self {
        case .callOffered: .callOffered
        case .callOriginated: .callOriginated
        case .callRinging: .callRinging
        case .callForwarded: .callForwarded
        case .callAnswered: .callAnswered
        case .callHeld: .callHeld
        case .callRetrieved: .callRetrieved
        case .callConsulting: .callConsulting
        case .callTransferring: .callTransferring
        case .callTransferred: .callTransferred
        case .callTransferFailed: .callTransferFailed
        case .callRecalled: .callRecalled
        case .callEnded: .callEnded
        case .callbackRequested: .callbackRequested
        case .callbackPlaced: .callbackPlaced
        case .callbackExpired: .callbackExpired
        case .devicesChanged: .devicesChanged
        case .featuresChanged: .featuresChanged
        case .agentChanged: .agentChanged
        case .pathChanged: .pathChanged
        case .securityBanned: .securityBanned
        case .messageWaiting: .messageWaiting
        case .conferenceJoined: .conferenceJoined
        case .conferenceLeft: .conferenceLeft
        case .conferenceTalking: .conferenceTalking
        case .hotDeskChanged: .hotDeskChanged
        case .parkChanged: .parkChanged
        case .consoleChanged: .consoleChanged
        }
    }

    /// The call the event is about, when it is about one.
    public var call: String? {
        switch self {
        case .callOffered(let call, _, _, _), .callOriginated(let call, _, _), .callRinging(let call, _, _, _), .callForwarded(let call, _, _, _),
             .callAnswered(let call, _, _, _), .callHeld(let call, _), .callRetrieved(let call, _), .callConsulting(let call, _, _, _),
             .callTransferring(let call, _, _), .callTransferred(let call, _, _, _, _), .callTransferFailed(let call, _, _), .callRecalled(let call, _, _, _),
             .callEnded(let call, _, _, _, _), .callbackPlaced(_, let call, _, _):
            call
        case .callbackRequested, .callbackExpired, .devicesChanged, .featuresChanged, .agentChanged, .pathChanged, .securityBanned, .messageWaiting,
             .conferenceJoined, .conferenceLeft, .conferenceTalking, .hotDeskChanged, .parkChanged, .consoleChanged:
            nil
        }
    }

    /// The event's fields as they go on the stream (docs/cti.md).
    public var fields: [String: JSONValue] {
        switch self {
        case .callOffered(let call, let caller, let callerName, let dialed):
            ["call": .string(call), "caller": .string(caller), "callerName": .optional(callerName), "dialed": .string(dialed)]
        case .callOriginated(let call, let caller, let dialed):
            ["call": .string(call), "caller": .string(caller), "dialed": .string(dialed)]
        case .callRinging(let call, let caller, let callee, let devices):
            ["call": .string(call), "caller": .string(caller), "callee": .string(callee), "devices": .array(devices.map(JSONValue.string))]
        case .callForwarded(let call, let from, let to, let reason):
            ["call": .string(call), "from": .string(from), "to": .string(to), "reason": .string(reason)]
        case .callAnswered(let call, let caller, let callee, let device):
            ["call": .string(call), "caller": .string(caller), "callee": .string(callee), "device": .string(device)]
        case .callHeld(let call, let party), .callRetrieved(let call, let party):
            ["call": .string(call), "party": .string(party)]
        case .callConsulting(let call, let consultation, let party, let to):
            ["call": .string(call), "consultation": .string(consultation), "party": .string(party), "to": .string(to)]
        case .callTransferring(let call, let party, let to):
            ["call": .string(call), "party": .string(party), "to": .string(to)]
        case .callTransferred(let call, let caller, let callee, let rebridged, let replaced):
            ["call": .string(call), "caller": .string(caller), "callee": .string(callee), "rebridged": .bool(rebridged)]
                .merging(replaced.map { ["replaced": JSONValue.string($0)] } ?? [:]) { first, _ in first }
        case .callTransferFailed(let call, let to, let reason):
            ["call": .string(call), "to": .string(to), "reason": .string(reason)]
        case .callRecalled(let call, let party, let from, let reason):
            ["call": .string(call), "party": .string(party), "from": .string(from), "reason": .string(reason.rawValue)]
        case .callEnded(let call, let caller, let callee, let outcome, let cdr):
            ["call": .string(call), "caller": .string(caller), "callee": .string(callee), "outcome": .string(outcome), "cdr": cdr.map(JSONValue.int) ?? .null]
        case .callbackRequested(let callback, let requester, let target), .callbackExpired(let callback, let requester, let target):
            ["callback": .string(callback), "requester": .string(requester), "target": .string(target)]
        case .callbackPlaced(let callback, let call, let requester, let target):
            ["callback": .string(callback), "call": .string(call), "requester": .string(requester), "target": .string(target)]
        case .devicesChanged(let user, let devices):
            ["user": .string(user), "devices": .array(devices.map(JSONValue.string))]
        case .featuresChanged(let user, let settings):
            ((try? JSONValue(encoding: settings))?.objectValue ?? [:]).merging(["user": .string(user)]) { _, user in user }
        case .agentChanged(let agent, let status, let reason, let device, let wrapUpEndsAt):
            ["agent": .string(agent), "status": .string(status), "reason": .optional(reason), "device": .optional(device),
             "wrapUpEndsAt": .optional(wrapUpEndsAt.map { $0.formatted(.iso8601) })]
        case .pathChanged(let path, let waiting):
            ["path": .string(path), "waiting": .int(Int64(waiting))]
        case .securityBanned(let address, let reason, let seconds):
            ["address": .string(address), "reason": .string(reason), "seconds": .int(Int64(seconds))]
        case .messageWaiting(let user, let new, let old):
            ["user": .string(user), "new": .int(Int64(new)), "old": .int(Int64(old))]
        case .conferenceJoined(let room, let participant), .conferenceLeft(let room, let participant):
            ["room": .string(room), "participant": .string(participant)]
        case .conferenceTalking(let room, let participant, let talking):
            ["room": .string(room), "participant": .string(participant), "talking": .bool(talking)]
        case .hotDeskChanged(let user, let device, let previous):
            ["user": .string(user), "device": .optional(device), "previous": .optional(previous)]
        case .parkChanged(let slot, let call, let parker):
            ["slot": .string(slot), "call": .optional(call), "parker": .optional(parker)]
        case .consoleChanged(let user, let active):
            ["user": .string(user), "active": .bool(active)]
        }
    }

    /// Reads a CTI event back; nil when it is not one, or a field it needs is missing.
    public init?(_ event: StreamEvent) {
        guard let kind = event.cti else { return nil }
        self.init(kind, fields: event.fields)
    }

    public init?(_ kind: CTIEvent, fields f: [String: JSONValue]) {
        func text(_ name: String) -> String? { f[name]?.stringValue }
        func list(_ name: String) -> [String]? { f[name]?.arrayValue?.compactMap(\.stringValue) }
        switch kind {
        case .callOffered:
            guard let call = text("call"), let caller = text("caller"), let dialed = text("dialed") else { return nil }
            self = .callOffered(call: call, caller: caller, callerName: text("callerName"), dialed: dialed)
        case .callOriginated:
            guard let call = text("call"), let caller = text("caller"), let dialed = text("dialed") else { return nil }
            self = .callOriginated(call: call, caller: caller, dialed: dialed)
        case .callRinging:
            guard let call = text("call"), let caller = text("caller"), let callee = text("callee"), let devices = list("devices") else { return nil }
            self = .callRinging(call: call, caller: caller, callee: callee, devices: devices)
        case .callForwarded:
            guard let call = text("call"), let from = text("from"), let to = text("to"), let reason = text("reason") else { return nil }
            self = .callForwarded(call: call, from: from, to: to, reason: reason)
        case .callAnswered:
            guard let call = text("call"), let caller = text("caller"), let callee = text("callee"), let device = text("device") else { return nil }
            self = .callAnswered(call: call, caller: caller, callee: callee, device: device)
        case .callHeld, .callRetrieved:
            guard let call = text("call"), let party = text("party") else { return nil }
            self = kind == .callHeld ? .callHeld(call: call, party: party) : .callRetrieved(call: call, party: party)
        case .callConsulting:
            guard let call = text("call"), let consultation = text("consultation"), let party = text("party"), let to = text("to") else { return nil }
            self = .callConsulting(call: call, consultation: consultation, party: party, to: to)
        case .callTransferring:
            guard let call = text("call"), let party = text("party"), let to = text("to") else { return nil }
            self = .callTransferring(call: call, party: party, to: to)
        case .callTransferred:
            guard let call = text("call"), let caller = text("caller"), let callee = text("callee"), let rebridged = f["rebridged"]?.boolValue else { return nil }
            self = .callTransferred(call: call, caller: caller, callee: callee, rebridged: rebridged, replaced: text("replaced"))
        case .callTransferFailed:
            guard let call = text("call"), let to = text("to"), let reason = text("reason") else { return nil }
            self = .callTransferFailed(call: call, to: to, reason: reason)
        case .callRecalled:
            guard let call = text("call"), let party = text("party"), let from = text("from"),
                  let reason = text("reason").flatMap(RecallMark.Reason.init(rawValue:)) else { return nil }
            self = .callRecalled(call: call, party: party, from: from, reason: reason)
        case .callEnded:
            guard let call = text("call"), let caller = text("caller"), let callee = text("callee"), let outcome = text("outcome") else { return nil }
            self = .callEnded(call: call, caller: caller, callee: callee, outcome: outcome, cdr: f["cdr"]?.intValue)
        case .callbackRequested, .callbackExpired:
            guard let callback = text("callback"), let requester = text("requester"), let target = text("target") else { return nil }
            self = kind == .callbackRequested ? .callbackRequested(callback: callback, requester: requester, target: target)
                : .callbackExpired(callback: callback, requester: requester, target: target)
        case .callbackPlaced:
            guard let callback = text("callback"), let call = text("call"), let requester = text("requester"), let target = text("target") else { return nil }
            self = .callbackPlaced(callback: callback, call: call, requester: requester, target: target)
        case .devicesChanged:
            guard let user = text("user"), let devices = list("devices") else { return nil }
            self = .devicesChanged(user: user, devices: devices)
        case .featuresChanged:
            var settings = f
            guard let user = settings.removeValue(forKey: "user")?.stringValue,
                  let decoded = try? JSONValue.object(settings).decode(CallSettings.self) else { return nil }
            self = .featuresChanged(user: user, settings: decoded)
        case .agentChanged:
            guard let agent = text("agent"), let status = text("status") else { return nil }
            self = .agentChanged(agent: agent, status: status, reason: text("reason"), device: text("device"),
                                 wrapUpEndsAt: text("wrapUpEndsAt").flatMap { try? Date($0, strategy: .iso8601) })
        case .pathChanged:
            guard let path = text("path"), case .int(let waiting)? = f["waiting"] else { return nil }
            self = .pathChanged(path: path, waiting: Int(waiting))
        case .securityBanned:
            guard let address = text("address"), let reason = text("reason"), case .int(let seconds)? = f["seconds"] else { return nil }
            self = .securityBanned(address: address, reason: reason, seconds: Int(seconds))
        case .messageWaiting:
            guard let user = text("user"), case .int(let new)? = f["new"], case .int(let old)? = f["old"] else { return nil }
            self = .messageWaiting(user: user, new: Int(new), old: Int(old))
        case .conferenceJoined, .conferenceLeft:
            guard let room = text("room"), let participant = text("participant") else { return nil }
            self = kind == .conferenceJoined ? .conferenceJoined(room: room, participant: participant) : .conferenceLeft(room: room, participant: participant)
        case .conferenceTalking:
            guard let room = text("room"), let participant = text("participant"), let talking = f["talking"]?.boolValue else { return nil }
            self = .conferenceTalking(room: room, participant: participant, talking: talking)
        case .hotDeskChanged:
            guard let user = text("user") else { return nil }
            self = .hotDeskChanged(user: user, device: text("device"), previous: text("previous"))
        case .parkChanged:
            guard let slot = text("slot") else { return nil }
            self = .parkChanged(slot: slot, call: text("call"), parker: text("parker"))
        case .consoleChanged:
            guard let user = text("user"), let active = f["active"]?.boolValue else { return nil }
            self = .consoleChanged(user: user, active: active)
        }
    }
}

extension EventLog {
    /// Appends a CTI event: the only way the call server announces one.
    @discardableResult
    public func append(_ message: CTIMessage, time: Date = Date()) -> StreamEvent {
        append(message.event.rawValue, message.fields, time: time)
    }
}
