// What the phone keeps on disk for limited mode and cold start: the login token, the provisioning
// (SIP account, call servers, directory, contacts, settings, dialing rules, presence), history,
// and its position in the session's event stream. Files are written whole (temporary file, then
// rename) with mode 0600: they hold credentials.

import Foundation
import Wire

public struct CachedSession: Codable, Sendable, Equatable {
    public var token: String?
    public var epoch: String?
    public var sequence: Int64?
    public var provisioning: Provisioning?
    public var history: [HistoryEntry]
    /// When the presence in `provisioning` was last refreshed from the server.
    public var presenceUpdatedAt: Date?
    /// The ACD agent this user logged in as (nil: none), and when it was last known.
    public var acd: AgentInfo?
    public var acdUpdatedAt: Date?
    /// The hot-desk user logged in at this phone (nil: none), and when it was last known: kept
    /// offline (the user stays logged in; logging out needs the server).
    public var hotDesk: HotDeskInfo?
    public var hotDeskUpdatedAt: Date?
    /// This phone as a desktop console (nil: never set), and the office's lamps as last read.
    public var console: ConsoleInfo?
    public var lamps: [LampInfo]?
    public var lampsUpdatedAt: Date?

    public init(token: String? = nil, epoch: String? = nil, sequence: Int64? = nil, provisioning: Provisioning? = nil,
                history: [HistoryEntry] = [], presenceUpdatedAt: Date? = nil) {
        self.token = token
        self.epoch = epoch
        self.sequence = sequence
        self.provisioning = provisioning
        self.history = history
        self.presenceUpdatedAt = presenceUpdatedAt
    }
}

public struct PhoneCache: Sendable {
    public let directory: URL
    var file: URL { directory.appendingPathComponent("session.json") }

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    public func load() -> CachedSession? {
        guard let data = try? Data(contentsOf: file) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(CachedSession.self, from: data)
    }

    public func save(_ session: CachedSession) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        try Self.writePrivate(try encoder.encode(session), to: file)
    }

    /// Writes `data` so that no other user can read it at any moment, and a crash leaves the old
    /// file or the new one, never half of one.
    public static func writePrivate(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        let handle = try FileHandle(forWritingTo: temporary)
        try handle.write(contentsOf: data)
        try handle.synchronize()
        try handle.close()
        guard rename(temporary.path, url.path) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    }
}
