// What the phone and the collaboration server exchange: presence, directory and contacts, chat,
// call history, call-handling settings. docs/protocol.md shows each with an example.

import Foundation

/// The state a user chose; `onThePhone` is derived from the call server's events beside it.
public enum PresenceState: String, Codable, Sendable, CaseIterable {
    case available, away, busy, doNotDisturb, offline
}

public struct Presence: Codable, Sendable, Equatable {
    public var user: String
    /// `offline` while the user has no phone session, whatever was chosen.
    public var state: PresenceState
    public var onThePhone: Bool
    public var note: String?
    /// When any of the above last changed (a phone shows it when its copy may be stale).
    public var updatedAt: Date

    public init(user: String, state: PresenceState, onThePhone: Bool = false, note: String? = nil, updatedAt: Date) {
        self.user = user
        self.state = state
        self.onThePhone = onThePhone
        self.note = note
        self.updatedAt = updatedAt
    }
}

/// A corporate directory entry: an office user (with an extension) or an external number.
public struct DirectoryEntry: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case user, external }
    public var kind: Kind
    public var name: String
    public var number: String

    public init(kind: Kind, name: String, number: String) {
        self.kind = kind
        self.name = name
        self.number = number
    }
}

/// Search as the directory and contacts do it, on the server and in a phone's cache alike: the
/// name contains the query (any case), or the number starts with it (formatting ignored).
public enum DirectorySearch {
    public static func matches(name: String, number: String, query: String) -> Bool {
        let q = query.trimmingCharacters(in: .whitespaces)
        guard !q.isEmpty else { return true }
        if name.localizedCaseInsensitiveContains(q) { return true }
        let digits = { (s: String) in s.filter { $0.isNumber || $0 == "+" } }
        let qd = digits(q)
        return !qd.isEmpty && (digits(number).hasPrefix(qd) || digits(number).hasPrefix("+" + qd))
    }
}

public struct DirectorySnapshot: Codable, Sendable, Equatable {
    /// Changes whenever the directory does, so a phone knows whether its cache is current.
    public var version: String
    public var entries: [DirectoryEntry]

    public init(version: String, entries: [DirectoryEntry]) {
        self.version = version
        self.entries = entries
    }
}

/// A personal contact of one user.
public struct Contact: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var number: String
    public var note: String?
    public var updatedAt: Date

    public init(id: Int64, name: String, number: String, note: String? = nil, updatedAt: Date) {
        self.id = id
        self.name = name
        self.number = number
        self.note = note
        self.updatedAt = updatedAt
    }
}

public struct ChatMessage: Codable, Sendable, Equatable {
    public var id: Int64
    public var from: String
    public var to: String
    public var text: String
    public var sentAt: Date
    /// When a session of the recipient received it.
    public var deliveredAt: Date?
    /// When the recipient said it was read.
    public var readAt: Date?

    public init(id: Int64, from: String, to: String, text: String, sentAt: Date, deliveredAt: Date? = nil, readAt: Date? = nil) {
        self.id = id
        self.from = from
        self.to = to
        self.text = text
        self.sentAt = sentAt
        self.deliveredAt = deliveredAt
        self.readAt = readAt
    }
}

/// One line of a user's call history, made from one call-server CDR.
public struct HistoryEntry: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case outgoing, answered, missed }
    public var id: Int64
    public var user: String
    public var kind: Kind
    /// The other party's number and, when known, name.
    public var remote: String
    public var remoteName: String?
    public var startedAt: Date
    public var answeredAt: Date?
    public var endedAt: Date
    /// The call server's outcome (`answered`, `busy`, `noAnswer`, …) and the CDR it came from.
    public var outcome: String
    public var cdr: Int64

    public init(id: Int64, user: String, kind: Kind, remote: String, remoteName: String?, startedAt: Date, answeredAt: Date?,
                endedAt: Date, outcome: String, cdr: Int64) {
        self.id = id
        self.user = user
        self.kind = kind
        self.remote = remote
        self.remoteName = remoteName
        self.startedAt = startedAt
        self.answeredAt = answeredAt
        self.endedAt = endedAt
        self.outcome = outcome
        self.cdr = cdr
    }
}

/// The call-handling settings the call server keeps for a user (read and changed through CTI).
public struct CallSettings: Codable, Sendable, Equatable {
    /// A forwarding target that is the user's own mailbox.
    public static let voicemail = "voicemail"
    public var doNotDisturb: Bool
    /// "Send my calls to"
    public var forwardAlways: String?
    /// "When I am on the phone"
    public var forwardBusy: String?
    /// "If I do not answer", after `noAnswerSeconds` (nil: the call server's ring timeout)
    public var forwardNoAnswer: String?
    public var noAnswerSeconds: Double?
    /// "Sending calls to": the device that rings (nil: all of them)
    public var selectedDevice: String?

    public init(doNotDisturb: Bool = false, forwardAlways: String? = nil, forwardBusy: String? = nil, forwardNoAnswer: String? = nil,
                noAnswerSeconds: Double? = nil, selectedDevice: String? = nil) {
        self.doNotDisturb = doNotDisturb
        self.forwardAlways = forwardAlways
        self.forwardBusy = forwardBusy
        self.forwardNoAnswer = forwardNoAnswer
        self.noAnswerSeconds = noAnswerSeconds
        self.selectedDevice = selectedDevice
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case doNotDisturb, forwardAlways, forwardBusy, forwardNoAnswer, noAnswerSeconds, selectedDevice
    }

    /// The fields a phone may change, as in `settings.set`.
    public static let fields: Set<String> = Set(CodingKeys.allCases.map(\.rawValue))

    /// A missing field is unset (DND off).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        doNotDisturb = try c.decodeIfPresent(Bool.self, forKey: .doNotDisturb) ?? false
        forwardAlways = try c.decodeIfPresent(String.self, forKey: .forwardAlways)
        forwardBusy = try c.decodeIfPresent(String.self, forKey: .forwardBusy)
        forwardNoAnswer = try c.decodeIfPresent(String.self, forKey: .forwardNoAnswer)
        noAnswerSeconds = try c.decodeIfPresent(Double.self, forKey: .noAnswerSeconds)
        selectedDevice = try c.decodeIfPresent(String.self, forKey: .selectedDevice)
    }

    /// Every field present, null when unset (as CTI and the collaboration server show them).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(doNotDisturb, forKey: .doNotDisturb)
        try c.encode(forwardAlways, forKey: .forwardAlways)
        try c.encode(forwardBusy, forKey: .forwardBusy)
        try c.encode(forwardNoAnswer, forKey: .forwardNoAnswer)
        try c.encode(noAnswerSeconds, forKey: .noAnswerSeconds)
        try c.encode(selectedDevice, forKey: .selectedDevice)
    }
}

public struct Recording: Codable, Sendable, Equatable {
    public var id: Int64
    public var owner: String
    public var call: String?
    public var remote: String?
    public var startedAt: Date?
    public var bytes: Int64
    public var uploadedAt: Date

    public init(id: Int64, owner: String, call: String?, remote: String?, startedAt: Date?, bytes: Int64, uploadedAt: Date) {
        self.id = id
        self.owner = owner
        self.call = call
        self.remote = remote
        self.startedAt = startedAt
        self.bytes = bytes
        self.uploadedAt = uploadedAt
    }
}

extension CallSettings {
    /// A change to some settings (a CTI `PATCH`, a phone's `settings.set`): each field given
    /// replaces the setting, null clears it, a field absent is kept.
    public struct Change: Sendable, Equatable {
        /// The fields given.
        public let keys: Set<CodingKeys>
        /// The values of the fields given (the others at their defaults).
        public let settings: CallSettings

        public init(_ settings: CallSettings, keys: Set<CodingKeys>) {
            self.settings = settings
            self.keys = keys
        }

        /// Checks each field's name and type; throws naming the first one that is wrong (in
        /// the fields' alphabetical order).
        public init(_ fields: [String: JSONValue]) throws(FieldError) {
            var settings = CallSettings()
            var keys: Set<CodingKeys> = []
            for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
                guard let key = CodingKeys(rawValue: name) else { throw FieldError(field: name, expected: nil) }
                guard !(key == .doNotDisturb && value == .null), let one = try? JSONValue.object([name: value]).decode(CallSettings.self) else {
                    throw FieldError(field: name, expected: key.expected)
                }
                key.copy(from: one, to: &settings)
                keys.insert(key)
            }
            self.init(settings, keys: keys)
        }

        public func touches(_ key: CodingKeys) -> Bool { keys.contains(key) }

        /// `current` with the fields given replaced.
        public func applied(to current: CallSettings) -> CallSettings {
            var result = current
            for key in keys { key.copy(from: settings, to: &result) }
            return result
        }
    }

    /// A field of a change that is not a setting (`expected` nil) or not of the setting's type.
    public struct FieldError: Error, Sendable, Equatable {
        public var field: String
        public var expected: String?

        public init(field: String, expected: String?) {
            self.field = field
            self.expected = expected
        }
    }
}

extension CallSettings.CodingKeys {
    /// What the field takes, as an error names it.
    public var expected: String {
        switch self {
        case .doNotDisturb: "true or false"
        case .forwardAlways, .forwardBusy, .forwardNoAnswer, .selectedDevice: "a string, or null to clear it"
        case .noAnswerSeconds: "a number of seconds, or null for the server default"
        }
    }

    /// The setting, for the three forwardings (whose value is an extension).
    public var forwardingTarget: WritableKeyPath<CallSettings, String?>? {
        switch self {
        case .forwardAlways: \.forwardAlways
        case .forwardBusy: \.forwardBusy
        case .forwardNoAnswer: \.forwardNoAnswer
        case .doNotDisturb, .noAnswerSeconds, .selectedDevice: nil
        }
    }

    func copy(from source: CallSettings, to target: inout CallSettings) {
        switch self {
        case .doNotDisturb: target.doNotDisturb = source.doNotDisturb
        case .forwardAlways: target.forwardAlways = source.forwardAlways
        case .forwardBusy: target.forwardBusy = source.forwardBusy
        case .forwardNoAnswer: target.forwardNoAnswer = source.forwardNoAnswer
        case .noAnswerSeconds: target.noAnswerSeconds = source.noAnswerSeconds
        case .selectedDevice: target.selectedDevice = source.selectedDevice
        }
    }
}
