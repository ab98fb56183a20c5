// Mailboxes on disk: a message is kept whole with its index row or not at all, through crashes;
// PINs hashed and held to their rules.

import Audio
import Foundation
import Testing
import Voicemail
import Wire

@Suite struct MailboxStoreTests {
    static func directory() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-vm-\(UUID().uuidString)") }

    static func record(_ store: MailboxStore, seconds: Double, caller: String = "2001", at time: Double = 1_800_000_000) throws -> URL {
        let url = try store.recordingURL(mailbox: "2002", caller: caller, at: time)
        try WAV.write([Int16](repeating: 1000, count: Int(seconds * 8000)), to: url)
        return url
    }

    @Test func depositMoveAndDeleteChangeTheCountsAndTellTheObserver() throws {
        let store = try MailboxStore(directory: Self.directory())
        let changes = ChangeLog()
        store.onChange { changes.add($0) }
        let message = try store.deposit(recording: try Self.record(store, seconds: 3), mailbox: "2002", caller: "2001", callerName: "Ada Lovelace",
                                        receivedAt: 1_800_000_000, seconds: 3)
        #expect(store.waiting("2002") == MessageWaiting(new: 1, old: 0))
        #expect(try store.audio(message.id).count == 24000)
        #expect(store.move(message.id, to: .old))
        #expect(store.waiting("2002") == MessageWaiting(new: 0, old: 1))
        #expect(store.delete(message.id))
        #expect(store.waiting("2002") == .none && !store.delete(message.id))
        #expect(changes.all == ["2002", "2002", "2002"])
        let mode = try FileManager.default.attributesOfItem(atPath: store.root.appendingPathComponent("2002").path)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        #expect(throws: MailboxError.self) { try store.recordingURL(mailbox: "../etc", caller: "x", at: 0) }
    }

    @Test func afterACrashEveryMessageHasItsAudioAndEveryAudioItsRow() throws {
        let directory = Self.directory()
        var store = try MailboxStore(directory: directory)
        let kept = try store.deposit(recording: try Self.record(store, seconds: 3), mailbox: "2002", caller: "2001", callerName: nil, receivedAt: 1, seconds: 3)
        let lost = try store.deposit(recording: try Self.record(store, seconds: 3), mailbox: "2002", caller: "2003", callerName: nil, receivedAt: 2, seconds: 3)
        // The audio of one vanished (deleted, the process killed before its row went).
        try FileManager.default.removeItem(at: try #require(store.audioURL(lost.id)))
        // A message moved in but killed before its row was written.
        let unindexed = try Self.record(store, seconds: 4, caller: "2004", at: 1_800_000_100)
        try FileManager.default.moveItem(at: unindexed, to: store.root.appendingPathComponent("2002").appendingPathComponent(unindexed.lastPathComponent))
        // A recording cut by the crash: its header never got its sizes.
        let cut = try store.recordingURL(mailbox: "2002", caller: "2001", at: 1_800_000_200)
        let writer = try WAVStreamWriter(url: cut)
        try writer.append([Int16](repeating: 2000, count: 20000))
        // And one too short to keep.
        let short = try store.recordingURL(mailbox: "2002", caller: "2001", at: 1_800_000_300)
        let shortWriter = try WAVStreamWriter(url: short)
        try shortWriter.append([Int16](repeating: 2000, count: 4000))

        store = try MailboxStore(directory: directory)
        let messages = store.messages("2002")
        #expect(messages.count == 3, "\(messages)")
        #expect(messages.contains { $0.id == kept.id } && !messages.contains { $0.id == lost.id })
        let adopted = try #require(messages.first { $0.caller == "2004" })
        #expect(adopted.receivedAt == 1_800_000_100 && adopted.seconds == 4 && !adopted.partial)
        let partial = try #require(messages.first { $0.partial })
        #expect(partial.seconds == 2.5 && partial.caller == "2001")
        #expect(try store.audio(partial.id).count == 20000)
        for message in messages { #expect(FileManager.default.fileExists(atPath: try #require(store.audioURL(message.id)).path)) }
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: store.root.appendingPathComponent("2002/tmp").path)) ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")
        _ = writer
        _ = shortWriter
    }

    @Test func pinsAreHashedAndHeldToTheirRules() throws {
        let store = try MailboxStore(directory: Self.directory())
        #expect(store.verifyPIN("2002", "12002", configured: "12002"))
        #expect(!store.verifyPIN("2002", "12003", configured: "12002"))
        #expect(!store.verifyPIN("2002", "", configured: nil), "no PIN configured: nothing opens it")
        #expect(MailboxStore.pinProblem("123", mailbox: "2002") != nil)
        #expect(MailboxStore.pinProblem("2002", mailbox: "2002") != nil)
        #expect(MailboxStore.pinProblem("12a4", mailbox: "2002") != nil)
        #expect(throws: MailboxError.self) { try store.setPIN("2002", "2002") }
        try store.setPIN("2002", "4815")
        #expect(store.verifyPIN("2002", "4815", configured: "12002"))
        #expect(!store.verifyPIN("2002", "12002", configured: "12002"), "the changed PIN replaces the configured one")
        for file in ["index.sqlite", "index.sqlite-wal"] {
            let index = (try? Data(contentsOf: store.root.appendingPathComponent(file))) ?? Data()
            #expect(index.range(of: Data("$2b$".utf8)) != nil || file == "index.sqlite", "a bcrypt hash is written")
            #expect(index.range(of: Data("4815".utf8)) == nil, "the PIN is stored hashed")
        }
    }
}

final class ChangeLog: @unchecked Sendable {
    private var changes: [String] = []
    private let lock = NSLock()
    func add(_ mailbox: String) { lock.withLock { changes.append(mailbox) } }
    var all: [String] { lock.withLock { changes } }
}

@Suite struct PINGuardTests {
    @Test func wrongPINsOverManyCallsLockTheMailboxUntilTheyAgeOut() {
        let clock = Clock()
        let guardian = PINGuard(limit: 3, window: 900, now: { clock.now })
        #expect(!guardian.failed("2002") && !guardian.failed("2002"))
        #expect(guardian.failed("2002"), "the third wrong PIN locks it")
        #expect(guardian.isLocked("2002") && !guardian.isLocked("2003"), "per mailbox")
        clock.now += 901
        #expect(!guardian.isLocked("2002"), "the failures aged out")
        _ = guardian.failed("2002")
        _ = guardian.failed("2002")
        guardian.succeeded("2002")
        #expect(!guardian.failed("2002") && !guardian.isLocked("2002"), "a right PIN clears the count")
    }

    final class Clock: @unchecked Sendable {
        private let lock = NSLock()
        private var time = 1_000.0
        var now: Double {
            get { lock.withLock { time } }
            set { lock.withLock { time = newValue } }
        }
    }
}
