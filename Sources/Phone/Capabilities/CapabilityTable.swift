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

/// One row of the table.
public struct Capability: Sendable {
    public enum Scope: Sendable { case global, call }
    public let id: String
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
    private static func row(_ id: String, _ scope: Capability.Scope, online: Bool = true, offline: Bool, states: Set<PhoneCallState>? = nil,
                            registration: Bool = false, built: Bool = true, _ note: String = "") -> Capability {
        Capability(id: id, scope: scope, online: online, offline: offline, states: states, needsRegistration: registration, built: built, note: note)
    }

    /// SYSTEM.md's table, row for row. Hold and retrieve are available offline (its "contradiction" resolved).
    public static let rows: [Capability] = [
        row("call.make", .global, offline: true, registration: true, "dial box, contact right-click, double-click, phone icon"),
        row("call.make.fromDevice", .global, offline: false, "Call button drop-down"),
        row("call.answer", .call, offline: true, states: [.ringing], "offline: always via the call notification window"),
        row("call.redirect", .call, offline: false, states: [.ringing], "forward a ringing call elsewhere"),
        row("call.end", .call, offline: true, states: [.ringing, .dialing, .connected, .held]),
        row("call.hold", .call, offline: true, states: [.connected]),
        row("call.retrieve", .call, offline: true, states: [.held]),
        row("call.mute", .call, offline: true, states: [.connected, .held]),
        row("call.volume", .call, offline: true, states: [.ringing, .dialing, .connected, .held], "speaker volume"),
        row("call.dtmf", .call, offline: true, states: [.connected], "RFC 4733 events (SIP INFO as fallback)"),
        row("call.consult", .call, offline: false, states: [.connected, .held], "consultation call"),
        row("call.transfer", .call, offline: false, states: [.connected, .held], "blind and after consultation"),
        row("call.conference", .call, offline: false, states: [.connected, .held], built: false, "start/add to an ad-hoc conference"),
        row("conference.join", .global, offline: true, built: false, "dial into an existing (meet-me) conference"),
        row("call.trade", .call, offline: false, states: [.connected, .held], "swap between held and active party"),
        row("call.record", .call, offline: false, states: [.connected, .held], "see recording policy"),
        row("call.callback", .call, offline: false, "ask to be called back when a busy/absent party is free"),
        row("voicemail.call", .global, offline: true, built: false, "call any extension's voicemail"),
        row("recall.receive", .global, offline: true, built: false, "an unanswered transferred call comes back"),
        row("device.preferred.select", .global, offline: false),
        row("sendingCallsTo.change", .global, offline: false, "shown read-only offline"),
        row("desktopConsole.select", .global, offline: false, built: false, "stays active offline if it was active"),
        row("dnd.toggle", .global, offline: false, "state persists offline"),
        row("forwarding.change", .global, offline: false, "they keep working offline"),
        row("autoAnswer.change", .global, offline: false, "Auto Answer keeps working offline"),
        row("presence.view", .global, offline: true, "offline: marked unreliable, not updated"),
        row("presence.set", .global, offline: false),
        row("loginNotify", .global, offline: false),
        row("chat", .global, offline: false),
        row("contacts.view", .global, offline: true, "offline: from the phone's cache"),
        row("contacts.search", .global, offline: true, "offline: from the phone's cache"),
        row("contacts.add", .global, offline: false, "offline: clear error"),
        row("callHistory.view", .global, offline: true, "offline: cached"),
        row("callHistory.update", .global, offline: false, "gap filled from the call server's CDR log after recovery"),
        row("acd.login", .global, offline: false, built: false),
        row("acd.logout", .global, offline: false, built: false, "agent stays logged in offline"),
        row("acd.status.view", .global, offline: false, built: false, "offline: greyed"),
        row("hotdesk.login", .global, offline: false, built: false),
        row("hotdesk.logout", .global, offline: false, built: false, "a logged-in hot-desk user stays logged in"),
        row("server.reconnect", .global, online: false, offline: true, "Try Now"),
        row("session.logout", .global, offline: true),
    ]

    public static let byID: [String: Capability] = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0) })

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
    public static func global(_ context: Context) -> [String: Availability] {
        Dictionary(uniqueKeysWithValues: rows.filter { $0.scope == .global }.map { ($0.id, availability(of: $0, in: context)) })
    }

    /// Every per-call capability for a call in `state`.
    public static func forCall(_ state: PhoneCallState, _ context: Context) -> [String: Availability] {
        Dictionary(uniqueKeysWithValues: rows.filter { $0.scope == .call }.map { ($0.id, availability(of: $0, in: context, call: state)) })
    }
}
