// The embedded store: SQLite through GRDB under the data directory, in WAL mode.

import ConfigFile
import Foundation
import GRDB
import Wire

public final class SQLiteCollabStore: CollabStore {
    let database: DatabaseQueue

    /// Opens (creating if needed) `DIR/collab.sqlite`.
    public init(directory: URL) throws {
        try PrivateFiles.directory(directory)
        var configuration = Configuration()
        configuration.journalMode = .wal
        // A commit is in the write-ahead log before it returns: a killed process loses nothing.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        let file = directory.appendingPathComponent("collab.sqlite")
        do {
            database = try DatabaseQueue(path: file.path, configuration: configuration)
            try Self.migrator.migrate(database)
        } catch {
            // Read-only, corrupt, not a database: said with the file's name.
            throw ConfigurationError("\(file.path) cannot be used: \(error)")
        }
        PrivateFiles.restrict(PrivateFiles.database(file))
    }

    /// An in-memory store for unit tests.
    public init() throws {
        database = try DatabaseQueue()
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "account") { t in
                t.primaryKey("user", .text)
                t.column("passwordHash", .text).notNull()
            }
            try db.create(table: "token") { t in
                t.primaryKey("hash", .text)
                t.column("user", .text).notNull()
                t.column("expiresAt", .datetime).notNull()
            }
            try db.create(table: "contact") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("owner", .text).notNull().indexed()
                t.column("name", .text).notNull()
                t.column("number", .text).notNull()
                t.column("note", .text)
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "chat") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("sender", .text).notNull()
                t.column("recipient", .text).notNull()
                t.column("text", .text).notNull()
                t.column("sentAt", .datetime).notNull()
                t.column("deliveredAt", .datetime)
                t.column("readAt", .datetime)
            }
            try db.create(index: "chat_recipient", on: "chat", columns: ["recipient", "deliveredAt"])
            try db.create(table: "history") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("user", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("remote", .text).notNull()
                t.column("remoteName", .text)
                t.column("startedAt", .datetime).notNull()
                t.column("answeredAt", .datetime)
                t.column("endedAt", .datetime).notNull()
                t.column("outcome", .text).notNull()
                t.column("cdr", .integer).notNull()
                t.uniqueKey(["user", "cdr"])
            }
            try db.create(table: "cursor") { t in
                t.primaryKey("name", .text)
                t.column("value", .integer).notNull()
            }
            try db.create(table: "presence") { t in
                t.primaryKey("user", .text)
                t.column("state", .text).notNull()
                t.column("note", .text)
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "loginNotify") { t in
                t.column("watcher", .text).notNull()
                t.column("target", .text).notNull()
                t.primaryKey(["watcher", "target"])
            }
            try db.create(table: "recording") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("owner", .text).notNull().indexed()
                t.column("call", .text)
                t.column("remote", .text)
                t.column("startedAt", .datetime)
                t.column("bytes", .integer).notNull()
                t.column("uploadedAt", .datetime).notNull()
            }
        }
        return migrator
    }

    // MARK: Accounts

    public func account(_ user: String) throws -> StoredAccount? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT user, passwordHash FROM account WHERE user = ?", arguments: [user])
                .map { StoredAccount(user: $0["user"], passwordHash: $0["passwordHash"]) }
        }
    }

    public func saveAccount(_ account: StoredAccount) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO account (user, passwordHash) VALUES (?, ?) ON CONFLICT(user) DO UPDATE SET passwordHash = excluded.passwordHash",
                           arguments: [account.user, account.passwordHash])
        }
    }

    public func saveToken(hash: String, user: String, expiresAt: Date) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM token WHERE expiresAt < ?", arguments: [Date()])
            try db.execute(sql: "INSERT INTO token (hash, user, expiresAt) VALUES (?, ?, ?)", arguments: [hash, user, expiresAt])
        }
    }

    public func tokenOwner(hash: String, now: Date) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT user FROM token WHERE hash = ? AND expiresAt > ?", arguments: [hash, now])
        }
    }

    public func deleteToken(hash: String) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM token WHERE hash = ?", arguments: [hash]) }
    }

    // MARK: Contacts

    private static func contact(_ row: Row) -> Contact {
        Contact(id: row["id"], name: row["name"], number: row["number"], note: row["note"], updatedAt: row["updatedAt"])
    }

    public func contacts(of owner: String) throws -> [Contact] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM contact WHERE owner = ? ORDER BY name COLLATE NOCASE, id", arguments: [owner]).map(Self.contact)
        }
    }

    public func addContact(owner: String, name: String, number: String, note: String?, at: Date) throws -> Contact {
        try database.write { db in
            try db.execute(sql: "INSERT INTO contact (owner, name, number, note, updatedAt) VALUES (?, ?, ?, ?, ?)", arguments: [owner, name, number, note, at])
            return Contact(id: db.lastInsertedRowID, name: name, number: number, note: note, updatedAt: at)
        }
    }

    public func updateContact(owner: String, id: Int64, name: String?, number: String?, note: String??, at: Date) throws -> Contact? {
        try database.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM contact WHERE owner = ? AND id = ?", arguments: [owner, id]) else { return nil }
            var contact = Self.contact(row)
            if let name { contact.name = name }
            if let number { contact.number = number }
            if let note { contact.note = note }
            contact.updatedAt = at
            try db.execute(sql: "UPDATE contact SET name = ?, number = ?, note = ?, updatedAt = ? WHERE id = ?",
                           arguments: [contact.name, contact.number, contact.note, at, id])
            return contact
        }
    }

    public func deleteContact(owner: String, id: Int64) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM contact WHERE owner = ? AND id = ?", arguments: [owner, id])
            return db.changesCount > 0
        }
    }

    // MARK: Chat

    private static func chat(_ row: Row) -> ChatMessage {
        ChatMessage(id: row["id"], from: row["sender"], to: row["recipient"], text: row["text"], sentAt: row["sentAt"],
                    deliveredAt: row["deliveredAt"], readAt: row["readAt"])
    }

    public func appendChat(from: String, to: String, text: String, at: Date) throws -> ChatMessage {
        try database.write { db in
            try db.execute(sql: "INSERT INTO chat (sender, recipient, text, sentAt) VALUES (?, ?, ?, ?)", arguments: [from, to, text, at])
            return ChatMessage(id: db.lastInsertedRowID, from: from, to: to, text: text, sentAt: at)
        }
    }

    public func markDelivered(_ ids: [Int64], at: Date) throws -> [ChatMessage] {
        guard !ids.isEmpty else { return [] }
        return try database.write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM chat WHERE deliveredAt IS NULL AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                                        arguments: StatementArguments(ids))
            try db.execute(sql: "UPDATE chat SET deliveredAt = ? WHERE deliveredAt IS NULL AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                           arguments: StatementArguments([at as any DatabaseValueConvertible] + ids.map { $0 as any DatabaseValueConvertible }))
            return rows.map { var m = Self.chat($0); m.deliveredAt = at; return m }
        }
    }

    public func markRead(reader: String, peer: String, upTo id: Int64, at: Date) throws -> [ChatMessage] {
        try database.write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM chat WHERE recipient = ? AND sender = ? AND id <= ? AND readAt IS NULL", arguments: [reader, peer, id])
            try db.execute(sql: "UPDATE chat SET readAt = ?, deliveredAt = COALESCE(deliveredAt, ?) WHERE recipient = ? AND sender = ? AND id <= ? AND readAt IS NULL",
                           arguments: [at, at, reader, peer, id])
            return rows.map { var m = Self.chat($0); m.readAt = at; m.deliveredAt = m.deliveredAt ?? at; return m }
        }
    }

    public func undeliveredChats(to user: String) throws -> [ChatMessage] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM chat WHERE recipient = ? AND deliveredAt IS NULL ORDER BY id", arguments: [user]).map(Self.chat)
        }
    }

    public func chatHistory(user: String, peer: String, before: Int64?, limit: Int) throws -> [ChatMessage] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM chat WHERE ((sender = ? AND recipient = ?) OR (sender = ? AND recipient = ?)) AND id < ?
                ORDER BY id DESC LIMIT ?
                """, arguments: [user, peer, peer, user, before ?? Int64.max, limit]).map(Self.chat)
        }
    }

    // MARK: History

    public func historyCursor() throws -> Int64 {
        try database.read { db in try Int64.fetchOne(db, sql: "SELECT value FROM cursor WHERE name = 'cdr'") ?? 0 }
    }

    public func appendHistory(_ entries: [HistoryEntry], cursor: Int64) throws -> [HistoryEntry] {
        try database.write { db in
            var stored: [HistoryEntry] = []
            for var entry in entries {
                // A CDR read twice (a crash between reading and storing) adds nothing the second time.
                try db.execute(sql: """
                    INSERT OR IGNORE INTO history (user, kind, remote, remoteName, startedAt, answeredAt, endedAt, outcome, cdr)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [entry.user, entry.kind.rawValue, entry.remote, entry.remoteName, entry.startedAt, entry.answeredAt,
                                     entry.endedAt, entry.outcome, entry.cdr])
                guard db.changesCount > 0 else { continue }
                entry.id = db.lastInsertedRowID
                stored.append(entry)
            }
            try db.execute(sql: "INSERT INTO cursor (name, value) VALUES ('cdr', ?) ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)",
                           arguments: [cursor])
            return stored
        }
    }

    public func history(user: String, kind: HistoryEntry.Kind?, before: Int64?, limit: Int) throws -> [HistoryEntry] {
        try database.read { db in
            var sql = "SELECT * FROM history WHERE user = ? AND id < ?"
            var arguments: [any DatabaseValueConvertible] = [user, before ?? Int64.max]
            if let kind {
                sql += " AND kind = ?"
                arguments.append(kind.rawValue)
            }
            sql += " ORDER BY id DESC LIMIT ?"
            arguments.append(limit)
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                HistoryEntry(id: row["id"], user: row["user"], kind: HistoryEntry.Kind(rawValue: row["kind"]) ?? .missed, remote: row["remote"],
                             remoteName: row["remoteName"], startedAt: row["startedAt"], answeredAt: row["answeredAt"], endedAt: row["endedAt"],
                             outcome: row["outcome"], cdr: row["cdr"])
            }
        }
    }

    // MARK: Presence

    public func presence() throws -> [Presence] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM presence").map { row in
                Presence(user: row["user"], state: PresenceState(rawValue: row["state"]) ?? .available, note: row["note"], updatedAt: row["updatedAt"])
            }
        }
    }

    public func savePresence(_ presence: Presence) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO presence (user, state, note, updatedAt) VALUES (?, ?, ?, ?)
                ON CONFLICT(user) DO UPDATE SET state = excluded.state, note = excluded.note, updatedAt = excluded.updatedAt
                """, arguments: [presence.user, presence.state.rawValue, presence.note, presence.updatedAt])
        }
    }

    // MARK: Login notify

    public func addLoginNotify(watcher: String, target: String) throws {
        try database.write { db in try db.execute(sql: "INSERT OR IGNORE INTO loginNotify (watcher, target) VALUES (?, ?)", arguments: [watcher, target]) }
    }

    public func removeLoginNotify(watcher: String, target: String) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM loginNotify WHERE watcher = ? AND target = ?", arguments: [watcher, target]) }
    }

    public func loginNotifyWatchers(of target: String) throws -> [String] {
        try database.read { db in try String.fetchAll(db, sql: "SELECT watcher FROM loginNotify WHERE target = ? ORDER BY watcher", arguments: [target]) }
    }

    public func loginNotifyTargets(of watcher: String) throws -> [String] {
        try database.read { db in try String.fetchAll(db, sql: "SELECT target FROM loginNotify WHERE watcher = ? ORDER BY target", arguments: [watcher]) }
    }

    // MARK: Recordings

    private static func recording(_ row: Row) -> Recording {
        Recording(id: row["id"], owner: row["owner"], call: row["call"], remote: row["remote"], startedAt: row["startedAt"], bytes: row["bytes"],
                  uploadedAt: row["uploadedAt"])
    }

    public func addRecording(owner: String, call: String?, remote: String?, startedAt: Date?, bytes: Int64, at: Date) throws -> Recording {
        try database.write { db in
            try db.execute(sql: "INSERT INTO recording (owner, call, remote, startedAt, bytes, uploadedAt) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [owner, call, remote, startedAt, bytes, at])
            return Recording(id: db.lastInsertedRowID, owner: owner, call: call, remote: remote, startedAt: startedAt, bytes: bytes, uploadedAt: at)
        }
    }

    public func recordings(of owner: String) throws -> [Recording] {
        try database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM recording WHERE owner = ? ORDER BY id DESC", arguments: [owner]).map(Self.recording) }
    }

    public func recording(_ id: Int64) throws -> Recording? {
        try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM recording WHERE id = ?", arguments: [id]).map(Self.recording) }
    }
}
