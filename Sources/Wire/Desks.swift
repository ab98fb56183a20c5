// Hot desking as the call server reports it (CTI `GET hotdesk`, the replies to login and logout)
// and the collaboration server passes on to the phone: typed once for both ends.

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
