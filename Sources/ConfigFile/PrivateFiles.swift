// What the servers write is theirs alone: data directories 0700, files 0600 (accounts' hashes,
// chats, contacts, recordings, CDRs). A directory made earlier with wider modes is tightened.

import Foundation

public enum PrivateFiles {
    /// Creates `directory` (and its parents) if needed and makes it owner-only.
    public static func directory(_ directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
    }

    /// Makes each file that exists owner-only (0600).
    public static func restrict(_ files: [URL]) {
        for file in files where FileManager.default.fileExists(atPath: file.path) {
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        }
    }

    /// A SQLite database and the journal files beside it.
    public static func database(_ file: URL) -> [URL] {
        [file, URL(fileURLWithPath: file.path + "-wal"), URL(fileURLWithPath: file.path + "-shm")]
    }
}
