// Which call server the phone registers with, as a plain value: the current one is probed with
// OPTIONS; after two failures in a row (or a failed registration) the phone moves to the other;
// while on the secondary, the primary is probed too and taken back as soon as it answers.

import Foundation

public struct CallServerFailover: Sendable {
    public enum Server: String, Sendable { case primary, secondary }

    public enum Action: Sendable, Equatable {
        case probe(Server)
        case switchTo(Server)
    }

    public let hasSecondary: Bool
    public let failuresToSwitch: Int
    public private(set) var current: Server = .primary
    private var failures = 0

    public init(hasSecondary: Bool, failuresToSwitch: Int = 2) {
        self.hasSecondary = hasSecondary
        self.failuresToSwitch = failuresToSwitch
    }

    /// The probe timer fired: probe the current server, and the primary when away from it.
    public func tick() -> [Action] {
        current == .secondary ? [.probe(.secondary), .probe(.primary)] : [.probe(.primary)]
    }

    public mutating func probed(_ server: Server, answered: Bool) -> [Action] {
        if server == .primary && current == .secondary {
            return answered ? switchTo(.primary) : []
        }
        guard server == current else { return [] }
        if answered {
            failures = 0
            return []
        }
        failures += 1
        return failures >= failuresToSwitch ? moveAway() : []
    }

    /// The registration itself failed (refused, or its transaction timed out).
    public mutating func registrationFailed() -> [Action] { moveAway() }

    private mutating func moveAway() -> [Action] {
        guard hasSecondary else {
            failures = 0
            return []
        }
        return switchTo(current == .primary ? .secondary : .primary)
    }

    private mutating func switchTo(_ server: Server) -> [Action] {
        current = server
        failures = 0
        return [.switchTo(server)]
    }
}
