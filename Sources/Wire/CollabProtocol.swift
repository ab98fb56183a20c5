// The phone ⇄ collaboration session (docs/protocol.md), named once for both ends: the frames on
// the WebSocket, the methods a phone may call, and the events the server pushes.

/// A frame's `type`.
public enum CollabFrame: String, Sendable, CaseIterable {
    /// Phone → server, first: who it is and where its event stream stopped.
    case hello
    /// Server → phone: the epoch and sequence, whether it resumed, else a snapshot.
    case welcome
    /// Both ways: a keep-alive the other end answers with the same id.
    case heartbeat
    /// Phone → server: a method call with an id.
    case request
    /// Server → phone: the result or error of a request, by its id.
    case response
    /// Server → phone: one event of the user's stream.
    case event
    /// Server → phone: a frame that could not be taken.
    case error
}

/// What a phone may ask on its session (a `request` frame's `method`).
public enum CollabMethod: String, Sendable, CaseIterable {
    case presenceList = "presence.list"
    case presenceSet = "presence.set"
    case chatSend = "chat.send"
    case chatRead = "chat.read"
    case chatHistory = "chat.history"
    case directorySearch = "directory.search"
    case contactsList = "contacts.list"
    case contactsSearch = "contacts.search"
    case contactsAdd = "contacts.add"
    case contactsUpdate = "contacts.update"
    case contactsDelete = "contacts.delete"
    case historyList = "history.list"
    case settingsGet = "settings.get"
    case settingsSet = "settings.set"
    case devicesList = "devices.list"
    case dialingApply = "dialing.apply"
    case callMake = "call.make"
    case callRedirect = "call.redirect"
    case callTransfer = "call.transfer"
    case callConsult = "call.consult"
    case callTrade = "call.trade"
    case callConference = "call.conference"
    case callCallback = "call.callback"
    case loginNotifyAdd = "loginNotify.add"
    case loginNotifyRemove = "loginNotify.remove"
    case loginNotifyList = "loginNotify.list"
    case recordingsList = "recordings.list"
    /// Contact center: log in with an agent ID at this user's phone, log out, available or make
    /// busy, and the agent's status (null when the user is no agent logged in).
    case acdLogin = "acd.login"
    case acdLogout = "acd.logout"
    case acdState = "acd.state"
    /// Ends the agent's wrap-up before its timer does.
    case acdEndWrapUp = "acd.endWrapUp"
    case acdStatus = "acd.status"
    /// Hot desking: log in as a hot-desk user (`user`, `pin`) at this user's phone, log out, and
    /// the login at this phone (null when none).
    case hotDeskLogin = "hotdesk.login"
    case hotDeskLogout = "hotdesk.logout"
    case hotDeskStatus = "hotdesk.status"
    /// Desktop console: this user's phone on duty for the attendant or off (`active`), its duty,
    /// and the busy lamps of the office (the call server's `GET lamps`).
    case consoleSet = "console.set"
    case consoleStatus = "console.status"
    case consoleLamps = "console.lamps"
    /// Visual voicemail: the user's mailbox (waiting counts and messages), a message heard or
    /// saved (`folder`), a message deleted. The audio is `GET /api/v1/voicemail/{id}/audio`.
    case voicemailList = "voicemail.list"
    case voicemailMove = "voicemail.move"
    case voicemailDelete = "voicemail.delete"
}

/// The events the collaboration server pushes to a user's sessions (an `event` frame's
/// `event.type`); the call server's callback events are passed on under their CTI names.
public enum CollabEvent: String, Sendable, CaseIterable {
    case presenceChanged = "presence.changed"
    case chatMessage = "chat.message"
    case chatDelivered = "chat.delivered"
    case chatRead = "chat.read"
    case contactsChanged = "contacts.changed"
    case settingsChanged = "settings.changed"
    case devicesChanged = "devices.changed"
    case historyAdded = "history.added"
    case loginNotifyOnline = "loginNotify.online"
    case callbackRequested = "callback.requested"
    case callbackPlaced = "callback.placed"
    case callbackExpired = "callback.expired"
    /// The user's ACD agent changed state (an `AgentInfo`).
    case acdChanged = "acd.changed"
    /// The user's mailbox changed (`new`, `old`): the phone lists it again.
    case voicemailChanged = "voicemail.changed"
    /// A conference room the user is (or was just) in changed: who is in it, who talks, who is
    /// muted (`room`, and `status`, a `ConferenceRoomStatus`, null once the room has closed).
    case conferenceChanged = "conference.changed"
    /// The hot-desk login at the user's phone changed (a `HotDeskInfo`; `loggedIn: false` when
    /// the hot-desk user logged out or in at another phone).
    case hotDeskChanged = "hotdesk.changed"
}

extension StreamEvent {
    /// The collaboration event this is, when it is one.
    public var collab: CollabEvent? { CollabEvent(rawValue: type) }
}
