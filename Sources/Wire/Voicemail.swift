// Voicemail as the programs tell each other of it: a mailbox's waiting counts (what RFC 3842's
// message-summary carries) and its messages (what visual voicemail lists).

import Foundation

/// The folders a message moves through: new until heard, then old; saved when the user keeps it.
public enum VoicemailFolder: String, Codable, Sendable, CaseIterable {
    case inbox = "INBOX"
    case old = "Old"
    case saved = "Saved"
}

/// How many messages wait in a mailbox: new (unheard) and old (heard or saved).
public struct MessageWaiting: Codable, Sendable, Equatable {
    public var new: Int
    public var old: Int
    public init(new: Int, old: Int) {
        self.new = new
        self.old = old
    }
    public static let none = MessageWaiting(new: 0, old: 0)
    public var waiting: Bool { new > 0 }
}

/// One message in a mailbox.
public struct VoicemailMessage: Codable, Sendable, Equatable, Identifiable {
    public var id: Int64
    public var mailbox: String
    public var folder: VoicemailFolder
    /// Who left it (the caller's number) and their directory name, if known.
    public var caller: String
    public var callerName: String?
    /// When it was left (seconds since 1970) and how long it is.
    public var receivedAt: Double
    public var seconds: Double
    /// Cut short by a crash of the call server: what was recorded up to then.
    public var partial: Bool

    public init(id: Int64, mailbox: String, folder: VoicemailFolder, caller: String, callerName: String?, receivedAt: Double, seconds: Double, partial: Bool) {
        self.id = id
        self.mailbox = mailbox
        self.folder = folder
        self.caller = caller
        self.callerName = callerName
        self.receivedAt = receivedAt
        self.seconds = seconds
        self.partial = partial
    }
}
