// What the collaboration server keeps durably, as a protocol: SQLite (GRDB) is the embedded
// default; a shared database (PostgreSQL) can stand behind it for several nodes.

import Foundation
import Wire

public struct StoredAccount: Sendable, Equatable {
    public var user: String
    public var passwordHash: String
}

public protocol CollabStore: Sendable {
    // Accounts and login tokens (stored as SHA-256 of the token).
    func account(_ user: String) throws -> StoredAccount?
    func saveAccount(_ account: StoredAccount) throws
    func saveToken(hash: String, user: String, expiresAt: Date) throws
    func tokenOwner(hash: String, now: Date) throws -> String?
    func deleteToken(hash: String) throws

    // Personal contacts.
    func contacts(of owner: String) throws -> [Contact]
    func addContact(owner: String, name: String, number: String, note: String?, at: Date) throws -> Contact
    func updateContact(owner: String, id: Int64, name: String?, number: String?, note: String??, at: Date) throws -> Contact?
    func deleteContact(owner: String, id: Int64) throws -> Bool

    // Chat.
    func appendChat(from: String, to: String, text: String, at: Date) throws -> ChatMessage
    /// Marks the messages delivered (those not yet), returning the ones that changed.
    func markDelivered(_ ids: [Int64], at: Date) throws -> [ChatMessage]
    /// Marks read every message from `peer` to `reader` up to `id`, returning the ones that changed.
    func markRead(reader: String, peer: String, upTo id: Int64, at: Date) throws -> [ChatMessage]
    func undeliveredChats(to user: String) throws -> [ChatMessage]
    /// The conversation of `user` and `peer`, newest first, ids below `before`.
    func chatHistory(user: String, peer: String, before: Int64?, limit: Int) throws -> [ChatMessage]

    // Call history, built from the call server's CDR log.
    func historyCursor() throws -> Int64
    /// Adds entries and moves the cursor in one transaction: after a crash either both or neither.
    func appendHistory(_ entries: [HistoryEntry], cursor: Int64) throws -> [HistoryEntry]
    func history(user: String, kind: HistoryEntry.Kind?, before: Int64?, limit: Int) throws -> [HistoryEntry]

    // Presence a user chose (durable so a restart keeps notes and choices).
    func presence() throws -> [Presence]
    func savePresence(_ presence: Presence) throws

    // Login notify: `watcher` wants to hear when `target` comes online.
    func addLoginNotify(watcher: String, target: String) throws
    func removeLoginNotify(watcher: String, target: String) throws
    func loginNotifyWatchers(of target: String) throws -> [String]
    func loginNotifyTargets(of watcher: String) throws -> [String]

    // Recordings (the audio lives in files beside the database).
    func addRecording(owner: String, call: String?, remote: String?, startedAt: Date?, bytes: Int64, at: Date) throws -> Recording
    func recordings(of owner: String) throws -> [Recording]
    func recording(_ id: Int64) throws -> Recording?
}
