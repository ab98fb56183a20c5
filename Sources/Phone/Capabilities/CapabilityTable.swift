// The capability table of SYSTEM.md, in one place: which capability is available, from the
// collaboration server's mode, the registration, the call's state and what is built. The phone
// evaluates it at every moment; its API and UI show only what it allows, and a request for
// anything else is refused with the capability and the reason.

import Foundation

public enum ServerMode: String, Codable, Sendable { case online, offline }

public enum PhoneCallState: String, Codable, Sendable, CaseIterable { case ringing, dialing, connected, held, ended }

/// Why a capability is not available now.
public enum CapabilityReason: String, Codable, Sendable {
    /// Needs the collaboration server, which is out of service (limited functionality).
    case serverOffline = "server_offline"
    /// Only meaningful while the server is out of service (Try Now).
    case serverOnline = "server_online"
    /// The phone is not registered with a call server.
    case notRegistered = "not_registered"
    /// The call is not in a state that allows it (e.g. retrieve a call that is not held).
    case callState = "call_state"
    /// The feature's server side does not exist yet in Holdfast.
    case notBuilt = "not_built"
}

public enum Availability: Sendable, Equatable {
    case available
    case unavailable(CapabilityReason)

    public var isAvailable: Bool { self == .available }
}

/// A capability's stable identifier (SYSTEM.md's table): typed, so a misspelt id does not compile
/// and no capability check can be skipped by a typo.
public enum CapabilityID: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case callMake = "call.make"
    case callMakeFromDevice = "call.make.fromDevice"
    case callAnswer = "call.answer"
    case callRedirect = "call.redirect"
    case callEnd = "call.end"
    case callHold = "call.hold"
    case callRetrieve = "call.retrieve"
    case callMute = "call.mute"
    case callVolume = "call.volume"
    case callDtmf = "call.dtmf"
    case callConsult = "call.consult"
    case callTransfer = "call.transfer"
    case callConference = "call.conference"
    case conferenceJoin = "conference.join"
    case callTrade = "call.trade"
    case callRecord = "call.record"
    case callCallback = "call.callback"
    case voicemailCall = "voicemail.call"
    case recallReceive = "recall.receive"
    case devicePreferredSelect = "device.preferred.select"
    case sendingCallsToChange = "sendingCallsTo.change"
    case desktopConsoleSelect = "desktopConsole.select"
    case dndToggle = "dnd.toggle"
    case forwardingChange = "forwarding.change"
    case autoAnswerChange = "autoAnswer.change"
    case presenceView = "presence.view"
    case presenceSet = "presence.set"
    case loginNotify = "loginNotify"
    case chat = "chat"
    case contactsView = "contacts.view"
    case contactsSearch = "contacts.search"
    case contactsAdd = "contacts.add"
    case callHistoryView = "callHistory.view"
    case callHistoryUpdate = "callHistory.update"
    case acdLogin = "acd.login"
    case acdLogout = "acd.logout"
    case acdStatusView = "acd.status.view"
    case hotdeskLogin = "hotdesk.login"
    case hotdeskLogout = "hotdesk.logout"
    case serverReconnect = "server.reconnect"
    case sessionLogout = "session.logout"

    public var description: String { rawValue }
}

/// One row of the table.
public struct Capability: Sendable {
    public enum Scope: Sendable { case global, call }
    public let id: CapabilityID
    public let scope: Scope
    public let online: Bool
    public let offline: Bool
    /// Call states in which a per-call capability applies (nil: any).
    public let states: Set<PhoneCallState>?
    /// Needs a registration with a call server.
    public let needsRegistration: Bool
    /// False until the feature's server side exists; reported `not_built`.
    public let built: Bool
    public let note: String
}

public enum CapabilityTable {
    private static func row(_ id: CapabilityID, _ scope: Capability.Scope, online: Bool = true, offline: Bool, states: Set<PhoneCallState>? = nil,
                            registration: Bool = false, built: Bool = true, _ note: String = "") -> Capability {
        Capability(id: id, scope: scope, online: online, offline: offline, states: states, needsRegistration: registration, built: built, note: note)
    }

    /// SYSTEM.md's table, row for row. Hold and retrieve are available offline (its "contradiction" resolved).
    public static let rows: [Capability] = [
        row(.callMake, .global, offline: true, registration: true, "dial box, contact right-click, double-click, phone icon"),
        row(.callMakeFromDevice, .global, offline: false, "Call button drop-down"),
        row(.callAnswer, .call, offline: true, states: [.ringing], "offline: always via the call notification window"),
        row(.callRedirect, .call, offline: false, states: [.ringing], "forward a ringing call elsewhere"),
        row(.callEnd, .call, offline: true, states: [.ringing, .dialing, .connected, .held]),
        row(.callHold, .call, offline: true, states: [.connected]),
        row(.callRetrieve, .call, offline: true, states: [.held]),
        row(.callMute, .call, offline: true, states: [.connected, .held]),
        row(.callVolume, .call, offline: true, states: [.ringing, .dialing, .connected, .held], "speaker volume"),
        row(.callDtmf, .call, offline: true, states: [.connected], "RFC 4733 events (SIP INFO as fallback)"),
        row(.callConsult, .call, offline: false, states: [.connected, .held], "consultation call"),
        row(.callTransfer, .call, offline: false, states: [.connected, .held], "blind and after consultation"),
        row(.callConference, .call, offline: false, states: [.connected, .held], "start/add to an ad-hoc conference"),
        row(.conferenceJoin, .global, offline: true, built: true, "dial into an existing (meet-me) conference"),
        row(.callTrade, .call, offline: false, states: [.connected, .held], "swap between held and active party"),
        row(.callRecord, .call, offline: false, states: [.connected, .held], "see recording policy"),
        row(.callCallback, .call, offline: false, "ask to be called back when a busy/absent party is free"),
        row(.voicemailCall, .global, offline: true, built: true, "call any extension's voicemail"),
        row(.recallReceive, .global, offline: true, built: true, "an unanswered transferred call comes back"),
        row(.devicePreferredSelect, .global, offline: false),
        row(.sendingCallsToChange, .global, offline: false, "shown read-only offline"),
        row(.desktopConsoleSelect, .global, offline: false, "stays active offline if it was active"),
        row(.dndToggle, .global, offline: false, "state persists offline"),
        row(.forwardingChange, .global, offline: false, "they keep working offline"),
        row(.autoAnswerChange, .global, offline: false, "Auto Answer keeps working offline"),
        row(.presenceView, .global, offline: true, "offline: marked unreliable, not updated"),
        row(.presenceSet, .global, offline: false),
        row(.loginNotify, .global, offline: false),
        row(.chat, .global, offline: false),
        row(.contactsView, .global, offline: true, "offline: from the phone's cache"),
        row(.contactsSearch, .global, offline: true, "offline: from the phone's cache"),
        row(.contactsAdd, .global, offline: false, "offline: clear error"),
        row(.callHistoryView, .global, offline: true, "offline: cached"),
        row(.callHistoryUpdate, .global, offline: false, "gap filled from the call server's CDR log after recovery"),
        row(.acdLogin, .global, offline: false),
        row(.acdLogout, .global, offline: false, "agent stays logged in offline"),
        row(.acdStatusView, .global, offline: false, "offline: greyed (state's acd.stale)"),
        row(.hotdeskLogin, .global, offline: false),
        row(.hotdeskLogout, .global, offline: false, "a logged-in hot-desk user stays logged in"),
        row(.serverReconnect, .global, online: false, offline: true, "Try Now"),
        row(.sessionLogout, .global, offline: true),
    ]

    public static let byID: [CapabilityID: Capability] = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0) })

    /// The row of `id` (every identifier has one: `CapabilityTableTests` checks).
    public static func row(_ id: CapabilityID) -> Capability {
        guard let capability = byID[id] else { preconditionFailure("capability \(id) has no row in the table") }
        return capability
    }

    /// What the evaluation depends on, besides the call.
    public struct Context: Sendable {
        public var server: ServerMode
        public var registered: Bool

        public init(server: ServerMode, registered: Bool) {
            self.server = server
            self.registered = registered
        }
    }

    public static func availability(of capability: Capability, in context: Context, call: PhoneCallState? = nil) -> Availability {
        guard capability.built else { return .unavailable(.notBuilt) }
        switch context.server {
        case .online where !capability.online: return .unavailable(.serverOnline)
        case .offline where !capability.offline: return .unavailable(.serverOffline)
        default: break
        }
        if capability.needsRegistration && !context.registered { return .unavailable(.notRegistered) }
        if capability.scope == .call, let states = capability.states, let call, !states.contains(call) { return .unavailable(.callState) }
        return .available
    }

    /// Every global capability (per-call ones are evaluated with `forCall`).
    public static func global(_ context: Context) -> [CapabilityID: Availability] {
        Dictionary(uniqueKeysWithValues: rows.filter { $0.scope == .global }.map { ($0.id, availability(of: $0, in: context)) })
    }

    /// Every per-call capability for a call in `state`.
    public static func forCall(_ state: PhoneCallState, _ context: Context) -> [CapabilityID: Availability] {
        Dictionary(uniqueKeysWithValues: rows.filter { $0.scope == .call }.map { ($0.id, availability(of: $0, in: context, call: state)) })
    }
}
