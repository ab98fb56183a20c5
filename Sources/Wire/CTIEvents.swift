// The call server's CTI events (docs/cti.md), named once for the server that sends them and for
// every program that follows them (the collaboration server, a secondary call server).

import Foundation

public enum CTIEvent: String, Sendable, CaseIterable, Codable {
    case callOffered = "call.offered"
    case callOriginated = "call.originated"
    case callRinging = "call.ringing"
    case callForwarded = "call.forwarded"
    case callAnswered = "call.answered"
    case callHeld = "call.held"
    case callRetrieved = "call.retrieved"
    case callConsulting = "call.consulting"
    case callTransferring = "call.transferring"
    case callTransferred = "call.transferred"
    case callTransferFailed = "call.transferFailed"
    case callRecalled = "call.recalled"
    case callEnded = "call.ended"
    case callbackRequested = "callback.requested"
    case callbackPlaced = "callback.placed"
    case callbackExpired = "callback.expired"
    case devicesChanged = "devices.changed"
    case featuresChanged = "features.changed"
    case agentChanged = "agent.changed"
    case pathChanged = "path.changed"
    case securityBanned = "security.banned"
    case messageWaiting = "voicemail.waiting"
    case conferenceJoined = "conference.joined"
    case conferenceLeft = "conference.left"
    case conferenceTalking = "conference.talking"
    case hotDeskChanged = "hotdesk.changed"
    case parkChanged = "park.changed"
    case consoleChanged = "console.changed"
}

extension StreamEvent {
    /// The CTI event this is, when it is one.
    public var cti: CTIEvent? { CTIEvent(rawValue: type) }
}
