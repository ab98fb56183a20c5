// Hot desking and park slots as the call server reports them (CTI `GET hotdesk`, `GET park`, the
// replies to login and logout), and the collaboration server passes on: typed once for both ends.

import Foundation

public struct HotDeskInfo: Codable, Sendable, Equatable {
    /// The hot-desk user's extension (2101).
    public var user: String
    public var name: String
    public var loggedIn: Bool
    /// The extension whose phone the user is logged in at (nil: logged out).
    public var device: String?
    public var since: Date?

    public init(user: String, name: String, loggedIn: Bool, device: String?, since: Date?) {
        self.user = user
        self.name = name
        self.loggedIn = loggedIn
        self.device = device
        self.since = since
    }
}

/// A park slot as CTI shows it (`GET park`): the call waiting in it, who parked it, who waits.
public struct ParkSlotInfo: Codable, Sendable, Equatable {
    public var slot: String
    public var call: String?
    public var parker: String?
    /// The party waiting (the number on the parked side).
    public var parked: String?
    public var since: Date?

    public init(slot: String, call: String?, parker: String?, parked: String?, since: Date?) {
        self.slot = slot
        self.call = call
        self.parker = parker
        self.parked = parked
        self.since = since
    }
}

/// A busy lamp as CTI shows it (`GET lamps`, the console's lamp field): an extension's or a park
/// slot's state, with who is on the other end when something is going on.
public struct LampInfo: Codable, Sendable, Equatable {
    /// `idle`, `ringing`, `busy`, `dnd`, `unregistered` for an extension; `idle` or `parked` for a slot.
    public var number: String
    public var state: String
    public var remote: String?
    /// SIP subscribers watching this lamp (RFC 4235).
    public var watchers: Int

    public init(number: String, state: String, remote: String?, watchers: Int) {
        self.number = number
        self.state = state
        self.remote = remote
        self.watchers = watchers
    }
}

/// A user's phone as a desktop console (CTI `GET consoles`, `PUT consoles/{user}`).
public struct ConsoleInfo: Codable, Sendable, Equatable {
    public var user: String
    public var active: Bool
    public var since: Date?
    /// The attendant number whose calls ring it.
    public var attendant: String?

    public init(user: String, active: Bool, since: Date?, attendant: String?) {
        self.user = user
        self.active = active
        self.since = since
        self.attendant = attendant
    }
}
