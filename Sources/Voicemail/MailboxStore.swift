// Mailboxes on disk: each message a WAV under voicemail/<mailbox>/, indexed in voicemail/index.sqlite
// (GRDB), greetings beside the messages, PINs as bcrypt hashes. Folders 0700, files 0600.
//
// A message is kept whole or not at all. It is recorded into voicemail/<mailbox>/tmp/, closed,
// renamed beside the others, and only then indexed; a delete removes the file before the row. At
// start the two are reconciled: a row whose file is gone is dropped, a message file without a row
// is indexed again (its name carries when and from whom), and a recording a crash cut short is
// mended and kept, marked partial, when it is long enough to be a message.

import Audio
import ConfigFile
import Foundation
import GRDB
import HummingbirdBcrypt
import Synchronization
import Wire

public enum VoicemailGreeting: String, Sendable, CaseIterable, Codable {
    case unavailable, busy, name
}

public struct MailboxError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public final class MailboxStore: Sendable {
    public let root: URL
    private let database: DatabaseQueue
    /// Told the mailbox whose messages changed (message waiting goes out from there).
    private let observer = Mutex<(@Sendable (String) -> Void)?>(nil)
    /// Bcrypt cost of stored PIN hashes (low: a PIN is keyed on a call, and short anyway).
    let pinCost: UInt8
    /// Recordings cut by a crash shorter than this are not kept.
    public let minimumSeconds: Double

    /// Opens (creating) the store under `directory`/voicemail and reconciles files and index.
    public init(directory: URL, minimumSeconds: Double = 2, pinCost: UInt8 = 6) throws {
        root = directory.appendingPathComponent("voicemail")
        self.minimumSeconds = minimumSeconds
        self.pinCost = pinCost
        let file = root.appendingPathComponent("index.sqlite")
        do {
            try PrivateFiles.directory(root)
            var configuration = Configuration()
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL") }
            database = try DatabaseQueue(path: file.path, configuration: configuration)
        } catch {
            throw MailboxError("voicemail index \(file.path) cannot be opened: \(error)")
        }
        try Self.migrator.migrate(database)
        PrivateFiles.restrict(PrivateFiles.database(file))
        try reconcile()
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "messages") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("mailbox", .text).notNull().indexed()
                t.column("folder", .text).notNull()
                t.column("caller", .text).notNull()
                t.column("callerName", .text)
                t.column("receivedAt", .double).notNull()
                t.column("seconds", .double).notNull()
                t.column("partial", .boolean).notNull().defaults(to: false)
                t.column("file", .text).notNull().unique()
            }
            try db.create(table: "pins") { t in
                t.primaryKey("mailbox", .text)
                t.column("hash", .text).notNull()
            }
        }
        return migrator
    }

    public func onChange(_ observe: (@Sendable (String) -> Void)?) { observer.withLock { $0 = observe } }
    private func changed(_ mailbox: String) { observer.withLock { $0 }?(mailbox) }

    // MARK: - Reading

    public func waiting(_ mailbox: String) -> MessageWaiting {
        (try? database.read { db -> MessageWaiting in
            let new = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages WHERE mailbox = ? AND folder = ?", arguments: [mailbox, VoicemailFolder.inbox.rawValue]) ?? 0
            let all = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages WHERE mailbox = ?", arguments: [mailbox]) ?? 0
            return MessageWaiting(new: new, old: all - new)
        }) ?? .none
    }

    /// New messages first, then old, then saved; oldest first within each.
    public func messages(_ mailbox: String) -> [VoicemailMessage] {
        let rows = (try? database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE mailbox = ? ORDER BY receivedAt, id", arguments: [mailbox])
        }) ?? []
        let order: [VoicemailFolder] = [.inbox, .old, .saved]
        return rows.compactMap(Self.message).sorted { (order.firstIndex(of: $0.folder) ?? 0) < (order.firstIndex(of: $1.folder) ?? 0) }
    }

    public func message(_ id: Int64) -> VoicemailMessage? {
        (try? database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM messages WHERE id = ?", arguments: [id]) }).flatMap { $0 }.flatMap(Self.message)
    }

    public func count(_ mailbox: String) -> Int { let w = waiting(mailbox); return w.new + w.old }

    /// The audio of a message (8 kHz mono).
    public func audio(_ id: Int64) throws -> [Int16] {
        guard let file = try database.read({ db in try String.fetchOne(db, sql: "SELECT file FROM messages WHERE id = ?", arguments: [id]) }) else {
            throw MailboxError("no message \(id)")
        }
        return try WAV.read(root.appendingPathComponent(file))
    }

    public func audioURL(_ id: Int64) -> URL? {
        (try? database.read { db in try String.fetchOne(db, sql: "SELECT file FROM messages WHERE id = ?", arguments: [id]) }).flatMap { $0 }
            .map { root.appendingPathComponent($0) }
    }

    private static func message(_ row: Row) -> VoicemailMessage? {
        guard let folder = VoicemailFolder(rawValue: row["folder"]) else { return nil }
        return VoicemailMessage(id: row["id"], mailbox: row["mailbox"], folder: folder, caller: row["caller"], callerName: row["callerName"],
                                receivedAt: row["receivedAt"], seconds: row["seconds"], partial: row["partial"])
    }

    // MARK: - Deposit

    /// Where a new recording for `mailbox` is written while it lasts: a name that says when and
    /// from whom, in the mailbox's tmp folder.
    public func recordingURL(mailbox: String, caller: String, at time: Double) throws -> URL {
        let folder = try mailboxFolder(mailbox).appendingPathComponent("tmp")
        try PrivateFiles.directory(folder)
        let safeCaller = String(caller.filter { $0.isNumber || $0 == "+" || $0 == "*" }.prefix(32))
        return folder.appendingPathComponent("\(Int64((time * 1000).rounded()))-\(safeCaller.isEmpty ? "unknown" : safeCaller)-\(UUID().uuidString.prefix(8)).wav")
    }

    /// Keeps a closed recording as a new message: moved beside the others, then indexed.
    @discardableResult
    public func deposit(recording: URL, mailbox: String, caller: String, callerName: String?, receivedAt: Double, seconds: Double,
                        partial: Bool = false) throws -> VoicemailMessage {
        let name = recording.lastPathComponent
        let destination = try mailboxFolder(mailbox).appendingPathComponent(name)
        do {
            try FileManager.default.moveItem(at: recording, to: destination)
        } catch {
            throw MailboxError("the message cannot be kept in \(destination.path): \(error.localizedDescription)")
        }
        let id = try database.write { db -> Int64 in
            try db.execute(sql: "INSERT INTO messages (mailbox, folder, caller, callerName, receivedAt, seconds, partial, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [mailbox, VoicemailFolder.inbox.rawValue, caller, callerName, receivedAt, seconds, partial, "\(mailbox)/\(name)"])
            return db.lastInsertedRowID
        }
        changed(mailbox)
        return VoicemailMessage(id: id, mailbox: mailbox, folder: .inbox, caller: caller, callerName: callerName, receivedAt: receivedAt,
                                seconds: seconds, partial: partial)
    }

    // MARK: - Changes

    /// Moves a message to `folder` (heard: old; kept: saved). False when there is no such message.
    @discardableResult
    public func move(_ id: Int64, to folder: VoicemailFolder) -> Bool {
        guard let message = message(id) else { return false }
        guard message.folder != folder else { return true }
        guard (try? database.write({ db in try db.execute(sql: "UPDATE messages SET folder = ? WHERE id = ?", arguments: [folder.rawValue, id]) })) != nil else {
            return false
        }
        changed(message.mailbox)
        return true
    }

    /// Deletes a message: its file first, so a crash between leaves no row without audio.
    @discardableResult
    public func delete(_ id: Int64) -> Bool {
        guard let message = message(id), let url = audioURL(id) else { return false }
        try? FileManager.default.removeItem(at: url)
        guard (try? database.write({ db in try db.execute(sql: "DELETE FROM messages WHERE id = ?", arguments: [id]) })) != nil else { return false }
        changed(message.mailbox)
        return true
    }

    // MARK: - Greetings

    public func greetingURL(_ mailbox: String, _ greeting: VoicemailGreeting) -> URL {
        root.appendingPathComponent(mailbox).appendingPathComponent("greeting-\(greeting.rawValue).wav")
    }

    /// The recorded greeting, or nil (a generated one is played instead).
    public func greeting(_ mailbox: String, _ greeting: VoicemailGreeting) -> [Int16]? {
        try? WAV.read(greetingURL(mailbox, greeting))
    }

    /// Replaces a greeting with a closed recording (renamed over the old one: never half of either).
    public func setGreeting(_ mailbox: String, _ greeting: VoicemailGreeting, recording: URL) throws {
        _ = try mailboxFolder(mailbox)
        let destination = greetingURL(mailbox, greeting)
        guard rename(recording.path, destination.path) == 0 else {
            throw MailboxError("the greeting cannot be kept in \(destination.path): \(String(cString: strerror(errno)))")
        }
    }

    // MARK: - PINs

    /// Whether `pin` opens the mailbox: the PIN its user set, else the configured one.
    public func verifyPIN(_ mailbox: String, _ pin: String, configured: String?) -> Bool {
        if let hash = try? database.read({ db in try String.fetchOne(db, sql: "SELECT hash FROM pins WHERE mailbox = ?", arguments: [mailbox]) }) {
            return Bcrypt.verify(pin, hash: hash)
        }
        guard let configured, !configured.isEmpty else { return false }
        return Self.constantTimeEqual(pin, configured)
    }

    /// Why `pin` may not be a mailbox's PIN, or nil when it may: four digits or more, not the extension.
    public static func pinProblem(_ pin: String, mailbox: String) -> String? {
        guard pin.count >= 4, pin.count <= 16, pin.allSatisfy({ $0.isASCII && $0.isNumber }) else { return "a PIN is 4 to 16 digits" }
        guard pin != mailbox else { return "a PIN may not be the extension" }
        return nil
    }

    public func setPIN(_ mailbox: String, _ pin: String) throws {
        if let problem = Self.pinProblem(pin, mailbox: mailbox) { throw MailboxError(problem) }
        let hash = Bcrypt.hash(pin, cost: pinCost)
        try database.write { db in
            try db.execute(sql: "INSERT INTO pins (mailbox, hash) VALUES (?, ?) ON CONFLICT(mailbox) DO UPDATE SET hash = excluded.hash", arguments: [mailbox, hash])
        }
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = x.count ^ y.count
        for i in 0..<max(x.count, y.count) { difference |= Int((i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)) }
        return difference == 0
    }

    // MARK: - Files

    private func mailboxFolder(_ mailbox: String) throws -> URL {
        guard !mailbox.isEmpty, mailbox.count <= 32, mailbox.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw MailboxError("a mailbox is an extension's digits, not '\(mailbox.prefix(40))'")
        }
        let folder = root.appendingPathComponent(mailbox)
        try PrivateFiles.directory(folder)
        return folder
    }

    /// Index and files agree again after a crash (see the top of this file).
    func reconcile() throws {
        let manager = FileManager.default
        let indexed = try database.read { db in try Row.fetchAll(db, sql: "SELECT id, file FROM messages") }
        var known = Set<String>()
        for row in indexed {
            let file: String = row["file"]
            if manager.fileExists(atPath: root.appendingPathComponent(file).path) {
                known.insert(file)
            } else {
                let id: Int64 = row["id"]
                try database.write { db in try db.execute(sql: "DELETE FROM messages WHERE id = ?", arguments: [id]) }
            }
        }
        let mailboxes = (try? manager.contentsOfDirectory(atPath: root.path)) ?? []
        for mailbox in mailboxes where mailbox.allSatisfy(\.isNumber) {
            let folder = root.appendingPathComponent(mailbox)
            for name in (try? manager.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasSuffix(".wav") && !name.hasPrefix("greeting-") {
                guard !known.contains("\(mailbox)/\(name)"), let (time, caller) = Self.parse(name) else { continue }
                let url = folder.appendingPathComponent(name)
                let seconds = Double((try? WAV.read(url))?.count ?? 0) / 8000
                try database.write { db in
                    try db.execute(sql: "INSERT INTO messages (mailbox, folder, caller, receivedAt, seconds, partial, file) VALUES (?, ?, ?, ?, ?, 0, ?)",
                                   arguments: [mailbox, VoicemailFolder.inbox.rawValue, caller, time, seconds, "\(mailbox)/\(name)"])
                }
            }
            // Recordings a crash cut: mended and kept when long enough, else removed.
            let tmp = folder.appendingPathComponent("tmp")
            for name in (try? manager.contentsOfDirectory(atPath: tmp.path)) ?? [] {
                let url = tmp.appendingPathComponent(name)
                guard let (time, caller) = Self.parse(name), (try? WAV.repairSizes(at: url)) != nil,
                      let samples = try? WAV.read(url), Double(samples.count) / 8000 >= minimumSeconds else {
                    try? manager.removeItem(at: url)
                    continue
                }
                _ = try? deposit(recording: url, mailbox: mailbox, caller: caller, callerName: nil, receivedAt: time,
                                 seconds: Double(samples.count) / 8000, partial: true)
            }
        }
    }

    /// A message file's name: milliseconds-caller-random.wav.
    static func parse(_ name: String) -> (time: Double, caller: String)? {
        let parts = name.dropLast(4).split(separator: "-", omittingEmptySubsequences: false)
        guard name.hasSuffix(".wav"), parts.count == 3, let millis = Int64(parts[0]) else { return nil }
        return (Double(millis) / 1000, parts[1] == "unknown" ? "" : String(parts[1]))
    }
}
