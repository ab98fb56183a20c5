// Visual voicemail for CTI (and through it the collaboration server and the phone's window):
// a user's messages, one message's audio, marking it heard, deleting it. The mailbox store says
// what changed, so message waiting follows as for the keypad.

import Foundation
import Voicemail
import Wire

/// A mailbox as CTI shows it.
public struct MailboxView: Codable, Sendable, Equatable {
    public var waiting: MessageWaiting
    public var messages: [VoicemailMessage]
}

extension CallServer {
    private func mailboxStore(of user: String) throws(ControlError) -> MailboxStore {
        guard configuration.user(user) != nil else { throw ControlError.unknownUser(user) }
        guard let mailboxes else { throw ControlError(.notFound, "no_mailbox", "this call server has no mailboxes") }
        return mailboxes
    }

    /// The message `id` of `user`'s mailbox (another's is not found: ids say nothing across mailboxes).
    private func message(_ id: Int64, of user: String) throws(ControlError) -> (MailboxStore, VoicemailMessage) {
        let store = try mailboxStore(of: user)
        guard let message = store.message(id), message.mailbox == user else {
            throw ControlError(.notFound, "no_message", "mailbox \(user) has no message \(id)", details: ["field": "id"])
        }
        return (store, message)
    }

    public func mailbox(of user: String) throws(ControlError) -> MailboxView {
        let store = try mailboxStore(of: user)
        return MailboxView(waiting: store.waiting(user), messages: store.messages(user))
    }

    /// Where a message's WAV is (8 kHz mono 16-bit).
    public func messageAudio(_ id: Int64, of user: String) throws(ControlError) -> URL {
        let (store, _) = try message(id, of: user)
        guard let url = store.audioURL(id) else { throw ControlError(.notFound, "no_message", "message \(id) has no audio") }
        return url
    }

    /// Marks a message heard (Old) or kept (Saved).
    public func moveMessage(_ id: Int64, of user: String, to folder: VoicemailFolder) throws(ControlError) -> VoicemailMessage {
        let (store, _) = try message(id, of: user)
        guard store.move(id, to: folder), let moved = store.message(id) else {
            throw ControlError(.failed, "not_stored", "message \(id) could not be moved")
        }
        return moved
    }

    public func deleteMessage(_ id: Int64, of user: String) throws(ControlError) {
        let (store, _) = try message(id, of: user)
        guard store.delete(id) else { throw ControlError(.failed, "not_stored", "message \(id) could not be deleted") }
    }
}
