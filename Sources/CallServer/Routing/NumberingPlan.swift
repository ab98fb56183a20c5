// The numbering plan: what a dialed number reaches (a user, a media service), or why nothing.
// Pure: the configuration in, a destination out.

import MediaServices

public enum Destination: Sendable, Equatable {
    case user(String)
    case service(MediaService)
    /// An ACD path: the caller queues for its agents.
    case acdPath(String)
    /// The start of a feature code: more digits are needed (484, RFC 3261 §21.4.22).
    case incomplete
    case unknown
}

public struct NumberingPlan: Sendable {
    let configuration: PBXConfiguration

    public init(_ configuration: PBXConfiguration) { self.configuration = configuration }

    public func resolve(_ dialed: String) -> Destination {
        if configuration.user(dialed) != nil { return .user(dialed) }
        if let entry = configuration.numbering.first(where: { $0.dial == dialed }) {
            if let service = entry.service { return .service(service) }
            if let user = entry.user { return .user(user) }
        }
        if configuration.acd.path(dialed) != nil { return .acdPath(dialed) }
        if dialed.hasPrefix("*"), configuration.numbering.contains(where: { $0.dial.count > dialed.count && $0.dial.hasPrefix(dialed) }) {
            return .incomplete
        }
        return .unknown
    }
}
