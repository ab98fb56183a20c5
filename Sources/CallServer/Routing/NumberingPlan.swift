// The numbering plan: what a dialed number reaches (a user, a media service), or why nothing.
// Pure: the configuration in, a destination out.

import MediaServices

public enum Destination: Sendable, Equatable {
    case user(String)
    case service(MediaService)
    /// An ACD path: the caller queues for its agents.
    case acdPath(String)
    /// Voicemail's feature codes: `*97` your own mailbox, `*98` any (asked for), `*99` + an
    /// extension leaves a message there without ringing it.
    case voicemail(VoicemailAccess)
    /// A meet-me conference room, by its number.
    case conference(String)
    /// Hot desking's feature codes: `*1` + extension + `#` + PIN + `#` logs in at the caller's
    /// phone, `*2` logs out whoever is logged in there.
    case hotDesk(HotDeskCode)
    /// A park slot: the call parked there is retrieved by whoever dials it.
    case parkSlot(String)
    /// The attendant: every desktop console on duty rings.
    case attendant
    /// The start of a feature code: more digits are needed (484, RFC 3261 §21.4.22).
    case incomplete
    case unknown
}

public enum HotDeskCode: Sendable, Equatable {
    case login(user: String, pin: String)
    case logout
}

public enum VoicemailAccess: Sendable, Equatable {
    case own
    case login
    case deposit(String)
}

public struct NumberingPlan: Sendable {
    public static let ownMailbox = "*97", anyMailbox = "*98", leaveMessage = "*99"
    public static let hotDeskLogin = "*1", hotDeskLogout = "*2"

    let configuration: PBXConfiguration

    public init(_ configuration: PBXConfiguration) { self.configuration = configuration }

    public func resolve(_ dialed: String) -> Destination {
        if configuration.user(dialed) != nil { return .user(dialed) }
        if let entry = configuration.numbering.first(where: { $0.dial == dialed }) {
            if let service = entry.service { return .service(service) }
            if let user = entry.user { return .user(user) }
        }
        if configuration.acd.path(dialed) != nil { return .acdPath(dialed) }
        if configuration.conference(dialed) != nil { return .conference(dialed) }
        if let park = configuration.park, park.slots.contains(dialed) { return .parkSlot(dialed) }
        if configuration.attendant?.number == dialed { return .attendant }
        if configuration.voicemail.enabled {
            if dialed == Self.ownMailbox { return .voicemail(.own) }
            if dialed == Self.anyMailbox { return .voicemail(.login) }
            if dialed == Self.leaveMessage { return .incomplete }
            if dialed.hasPrefix(Self.leaveMessage), configuration.user(String(dialed.dropFirst(3))) != nil {
                return .voicemail(.deposit(String(dialed.dropFirst(3))))
            }
        }
        if configuration.users.contains(where: \.isHotDesk) {
            if dialed == Self.hotDeskLogout { return .hotDesk(.logout) }
            if dialed.hasPrefix(Self.hotDeskLogin) { return Self.hotDeskLogin(String(dialed.dropFirst(2))) }
        }
        if dialed.hasPrefix("*"), configuration.numbering.contains(where: { $0.dial.count > dialed.count && $0.dial.hasPrefix(dialed) }) {
            return .incomplete
        }
        return .unknown
    }

    /// What follows `*1`: extension `#` PIN `#` (the last `#` may be left off, as phones that
    /// send on `#` do); fewer digits are incomplete, anything else unknown.
    static func hotDeskLogin(_ rest: String) -> Destination {
        let parts = rest.split(separator: "#", omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy({ $0.allSatisfy(\.isNumber) }), parts.count <= 3 else { return .unknown }
        if parts.count == 3, !parts[2].isEmpty { return .unknown }
        guard parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty else { return .incomplete }
        return .hotDesk(.login(user: parts[0], pin: parts[1]))
    }
}
