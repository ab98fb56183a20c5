// What the call server writes is its owner's alone, and a data file it cannot use is named.

import ConfigFile
import Foundation
import Testing
@testable import CallServer

@Suite struct PrivateFilesTests {
    static func mode(_ url: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func theDataDirectoryAndDatabaseAreOwnerOnlyEvenIfMadeWiderBefore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-private-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let store = try FeatureStore(directory: directory)
        store.saveAgent("7001", device: "2001", reason: nil)
        await store.durable()
        #expect(try Self.mode(directory) == 0o700)
        for file in PrivateFiles.database(directory.appendingPathComponent("pbx.sqlite")) where FileManager.default.fileExists(atPath: file.path) {
            let mode = try Self.mode(file)
            #expect(mode & 0o077 == 0, "\(file.lastPathComponent) is \(String(mode, radix: 8))")
        }
    }

    @Test func aCorruptDatabaseIsAnErrorNamingTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-corrupt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("pbx.sqlite")
        try Data(repeating: 0x42, count: 4096).write(to: file)
        do {
            _ = try FeatureStore(directory: directory)
            Issue.record("a file of 'B's opened as a database")
        } catch {
            #expect("\(error)".contains(file.path), "\(error)")
        }
    }
}
