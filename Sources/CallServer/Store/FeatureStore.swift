// Durable call-server state in SQLite (GRDB) under the data directory: per-user features (DND,
// forwarding, device selection), registrations, and the CDR log with its monotonic sequence. Committed
// transactions survive SIGKILL (WAL journal).

import ConfigFile
import Foundation
import GRDB
import Wire
import Synchronization

/// A user's call-handling settings, kept by the call server so they work with no collaboration
/// server. The settings are `Wire.CallSettings` (named there once); each is a column of the
/// `features` table under its coding key, beside the extension. `features.forwardBusy` reads and
/// writes `features.settings.forwardBusy`.
@dynamicMemberLookup
public struct Features: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "features"
    public var extensionNumber: String
    public var settings: CallSettings

    public init(extensionNumber: String, settings: CallSettings = CallSettings()) {
        self.extensionNumber = extensionNumber
        self.settings = settings
    }

    public subscript<Value>(dynamicMember setting: WritableKeyPath<CallSettings, Value>) -> Value {
        get { settings[keyPath: setting] }
        set { settings[keyPath: setting] = newValue }
    }

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case extensionNumber = "extension"
    }

    /// The extension's column, then the settings' own columns from the same row.
    public init(from decoder: any Decoder) throws {
        extensionNumber = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .extensionNumber)
        settings = try CallSettings(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(extensionNumber, forKey: .extensionNumber)
        try settings.encode(to: encoder)
    }
}

/// One call in the CDR log.
/// A CDR as the store keeps it (the type is the one on the wire, `Wire.CallRecord`).
extension CallRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "cdr"

    public mutating func didInsert(_ inserted: InsertionSuccess) { sequence = inserted.rowID }

    /// Columns written directly (one record per call: the generic Codable route cost more than
    /// the insert). `path` is JSON text, as reading it back through Codable expects.
    public func encode(to container: inout PersistenceContainer) throws {
        container["sequence"] = sequence
        container["callID"] = callID
        container["caller"] = caller
        container["callerName"] = callerName
        container["dialed"] = dialed
        container["callee"] = callee
        container["startedAt"] = startedAt
        container["answeredAt"] = answeredAt
        container["endedAt"] = endedAt
        container["outcome"] = outcome
        container["path"] = JSONText.array(path)
    }
}

public final class FeatureStore: Sendable {
    let database: DatabaseQueue
    /// CDRs and registrations are written by this, off the request path (see GroupCommit).
    let writer: GroupCommit
    /// The next CDR's sequence number, given when it is queued (so its event can name it).
    private let nextSequence: Mutex<Int64>
    /// Features as last read or written: every call consults them, and only this store changes
    /// them, so the database is read once per user.
    private let cachedFeatures = Mutex<[String: Features]>([:])

    /// Opens (creating if needed) `DIR/pbx.sqlite`.
    public convenience init(directory: URL) throws {
        try PrivateFiles.directory(directory)
        var configuration = Configuration()
        configuration.journalMode = .wal
        // Another connection (a reader, a second store on the same directory) may hold the lock
        // for a moment: wait for it rather than fail.
        configuration.busyMode = .timeout(5)
        // Each commit reaches the write-ahead log before it returns, so a killed process (SIGKILL)
        // loses nothing; only an operating-system crash may lose the last commits before a checkpoint.
        // Syncing every commit to disk (FULL) would cost one fsync per REGISTER and per call.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        let file = directory.appendingPathComponent("pbx.sqlite")
        do {
            try self.init(database: DatabaseQueue(path: file.path, configuration: configuration))
        } catch {
            // Read-only, corrupt, not a database: said with the file's name.
            throw ConfigurationError("\(file.path) cannot be used: \(error)")
        }
        PrivateFiles.restrict(PrivateFiles.database(file))
    }

    private init(database: DatabaseQueue) throws {
        self.database = database
        try Self.migrator.migrate(database)
        writer = GroupCommit(database: database)
        let last = try database.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM cdr") } ?? 0
        nextSequence = Mutex(last + 1)
    }

    /// An in-memory store for unit tests.
    public convenience init() throws {
        try self.init(database: DatabaseQueue())
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "features") { t in
                t.primaryKey("extension", .text)
                t.column("doNotDisturb", .boolean).notNull().defaults(to: false)
                t.column("forwardAlways", .text)
                t.column("forwardBusy", .text)
                t.column("forwardNoAnswer", .text)
                t.column("noAnswerSeconds", .double)
                t.column("selectedDevice", .text)
            }
            try db.create(table: "cdr") { t in
                t.autoIncrementedPrimaryKey("sequence")
                t.column("callID", .text).notNull()
                t.column("caller", .text).notNull()
                t.column("callerName", .text)
                t.column("dialed", .text).notNull()
                t.column("callee", .text)
                t.column("startedAt", .datetime).notNull()
                t.column("answeredAt", .datetime)
                t.column("endedAt", .datetime).notNull()
                t.column("outcome", .text).notNull()
                t.column("path", .jsonText).notNull()
            }
        }
        migrator.registerMigration("v2-bindings") { db in
            try db.create(table: "bindings") { t in
                t.column("aor", .text).notNull().indexed()
                t.column("position", .integer).notNull()
                t.column("contact", .text).notNull()
                t.column("expires", .double).notNull()
                t.column("callID", .text).notNull()
                t.column("cseq", .integer).notNull()
                t.column("path", .jsonText).notNull()
                t.column("instance", .text)
                t.column("regID", .text)
                t.column("source", .text).notNull()
                t.column("transport", .text).notNull()
            }
        }
        migrator.registerMigration("v3-acd") { db in
            try db.create(table: "agents") { t in
                t.primaryKey("agent", .text)
                t.column("device", .text).notNull()
                t.column("reason", .text)
            }
            try db.create(table: "queueLog") { t in
                t.autoIncrementedPrimaryKey("sequence")
                t.column("time", .double).notNull()
                t.column("kind", .text).notNull()
                t.column("path", .text)
                t.column("call", .text)
                t.column("agent", .text)
                t.column("detail", .text)
            }
        }
        migrator.registerMigration("v4-hotdesk") { db in
            try db.create(table: "hotdesk") { t in
                t.primaryKey("user", .text)
                t.column("device", .text).notNull()
                t.column("since", .double).notNull()
            }
        }
        migrator.registerMigration("v5-consoles") { db in
            try db.create(table: "consoles") { t in
                t.primaryKey("user", .text)
                t.column("since", .double).notNull()
            }
        }
        return migrator
    }

    /// A user's phone is a desktop console on duty (`since`), or no longer (nil).
    @discardableResult
    func saveConsole(_ user: String, since: Double?) -> UInt64 {
        writer.enqueue { db in
            if let since {
                try db.execute(sql: "INSERT OR REPLACE INTO consoles (user, since) VALUES (?, ?)", arguments: [user, since])
            } else {
                try db.execute(sql: "DELETE FROM consoles WHERE user = ?", arguments: [user])
            }
        }
    }

    func activeConsoles() throws -> [String: Double] {
        writer.flush()
        return try database.read { db in
            var consoles: [String: Double] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT user, since FROM consoles") { consoles[row["user"]] = row["since"] }
            return consoles
        }
    }

    /// A hot-desk user's login at a device (nil: logged out), kept across restarts.
    @discardableResult
    func saveHotDesk(_ user: String, device: String?, since: Double) -> UInt64 {
        writer.enqueue { db in
            if let device {
                try db.execute(sql: "INSERT OR REPLACE INTO hotdesk (user, device, since) VALUES (?, ?, ?)", arguments: [user, device, since])
            } else {
                try db.execute(sql: "DELETE FROM hotdesk WHERE user = ?", arguments: [user])
            }
        }
    }

    /// The hot-desk users logged in: user → (device, since).
    func hotDeskLogins() throws -> [String: (device: String, since: Double)] {
        writer.flush()
        return try database.read { db in
            var logins: [String: (device: String, since: Double)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT user, device, since FROM hotdesk") { logins[row["user"]] = (row["device"], row["since"]) }
            return logins
        }
    }

    /// An agent's login, kept so a restart keeps it logged in (`device` nil: logged out).
    /// `reason`: the make-busy reason, nil when available.
    @discardableResult
    func saveAgent(_ agent: String, device: String?, reason: String?) -> UInt64 {
        writer.enqueue { db in
            if let device {
                try db.execute(sql: "INSERT OR REPLACE INTO agents (agent, device, reason) VALUES (?, ?, ?)", arguments: [agent, device, reason])
            } else {
                try db.execute(sql: "DELETE FROM agents WHERE agent = ?", arguments: [agent])
            }
        }
    }

    /// The agents logged in: agent ID → (device, make-busy reason).
    func loggedInAgents() throws -> [String: (device: String, reason: String?)] {
        writer.flush()
        return try database.read { db in
            var agents: [String: (device: String, reason: String?)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT agent, device, reason FROM agents") { agents[row["agent"]] = (row["device"], row["reason"]) }
            return agents
        }
    }

    /// Appends a line to the queue log (durable with the next group commit).
    func appendQueueLog(_ entry: QueueLogEntry) {
        writer.enqueue { db in
            try db.execute(sql: "INSERT INTO queueLog (time, kind, path, call, agent, detail) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [entry.time, entry.kind.rawValue, entry.path, entry.call, entry.agent, entry.detail])
        }
    }

    /// Queue-log lines with sequence > `after`, oldest first.
    func queueLog(after: Int64, limit: Int = 500) throws -> [(sequence: Int64, entry: QueueLogEntry)] {
        writer.flush()
        return try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM queueLog WHERE sequence > ? ORDER BY sequence LIMIT ?", arguments: [after, limit]).compactMap { row in
                guard let kind = QueueLogEntry.Kind(rawValue: row["kind"]) else { return nil }
                return (row["sequence"], QueueLogEntry(time: row["time"], kind: kind, path: row["path"], call: row["call"], agent: row["agent"], detail: row["detail"]))
            }
        }
    }

    public func features(_ extensionNumber: String) throws -> Features {
        if let cached = cachedFeatures.withLock({ $0[extensionNumber] }) { return cached }
        let features = try database.read { db in try Features.fetchOne(db, key: extensionNumber) } ?? Features(extensionNumber: extensionNumber)
        cachedFeatures.withLock { $0[extensionNumber] = features }
        return features
    }

    public func update(_ extensionNumber: String, _ change: (inout Features) -> Void) throws -> Features {
        let features = try database.write { db in
            var features = try Features.fetchOne(db, key: extensionNumber) ?? Features(extensionNumber: extensionNumber)
            change(&features)
            try features.save(db)
            return features
        }
        cachedFeatures.withLock { $0[extensionNumber] = features }
        return features
    }

    /// Queues a CDR and returns it with its sequence number; `durable()` returns once it is stored.
    @discardableResult
    public func append(_ record: CallRecord) -> CallRecord {
        var record = record
        record.sequence = nextSequence.withLock { next in
            defer { next += 1 }
            return next
        }
        let row = record
        writer.enqueue { db in
            var inserted = row
            try inserted.insert(db)
        }
        return record
    }

    /// Returns once every CDR and registration queued so far is stored; false when one of those
    /// in flight failed.
    @discardableResult
    public nonisolated(nonsending) func durable() async -> Bool {
        await writer.durable()
    }

    /// Returns once the write of `ticket` is committed: whether it was stored.
    nonisolated(nonsending) func durable(through ticket: UInt64) async -> Bool {
        await writer.durable(through: ticket)
    }

    /// CDRs with sequence > `after`, oldest first, at most `limit` (every CDR queued so far included).
    public func records(after: Int64, limit: Int = 500) throws -> [CallRecord] {
        writer.flush()
        return try database.read { db in
            try CallRecord.filter(Column("sequence") > after).order(Column("sequence")).limit(limit).fetchAll(db)
        }
    }
}
