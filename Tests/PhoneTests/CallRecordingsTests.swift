// Call recordings on the phone, without sockets: upload when finished, the policy on server loss,
// and recordings cut short by a killed process, found at the next start.

import Audio
import Foundation
@testable import Phone
import Testing

@Suite struct CallRecordingsTests {
    final class Uploads: @unchecked Sendable {
        // @unchecked: guarded by the lock.
        private let lock = NSLock()
        private var items: [(bytes: Int, meta: CallRecordings.Meta)] = []
        var failing = false
        var all: [(bytes: Int, meta: CallRecordings.Meta)] { lock.withLock { items } }
        func add(_ wav: Data, _ meta: CallRecordings.Meta) throws {
            try lock.withLock {
                if failing { throw CocoaError(.fileWriteUnknown) }
                items.append((wav.count, meta))
            }
        }
    }

    func store() throws -> (CallRecordings, URL, Uploads) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-recordings-\(UUID().uuidString)")
        let recordings = try CallRecordings(directory: directory)
        return (recordings, directory, Uploads())
    }

    func writeSamples(_ count: Int, to url: URL, close: Bool) throws {
        let writer = try WAVStreamWriter(url: url)
        try writer.append([Int16](repeating: 1000, count: count))
        if close { try writer.close() }
    }

    @Test func aFinishedRecordingIsUploadedAndThenDeleted() async throws {
        let (recordings, directory, uploads) = try store()
        await recordings.connect({ try uploads.add($0, $1) }, changed: {})
        let wav = try await recordings.begin(call: "c1", remote: "2002")
        try writeSamples(800, to: wav, close: true)
        let mode = try FileManager.default.attributesOfItem(atPath: wav.path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        await recordings.finished(wav)
        await recordings.uploadPending()
        #expect(uploads.all.count == 1 && uploads.all.first?.bytes == 44 + 1600 && uploads.all.first?.meta.remote == "2002")
        #expect(await recordings.counts == .init(pending: 0, uploaded: 1, discarded: 0))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func aFailedUploadKeepsTheRecordingForTheNextTry() async throws {
        let (recordings, _, uploads) = try store()
        uploads.failing = true
        await recordings.connect({ try uploads.add($0, $1) }, changed: {})
        let wav = try await recordings.begin(call: "c1", remote: "2002")
        try writeSamples(160, to: wav, close: true)
        await recordings.finished(wav)
        await recordings.uploadPending()
        #expect(await recordings.counts.pending == 1)
        uploads.failing = false
        await recordings.uploadPending()
        #expect(await recordings.counts == .init(pending: 0, uploaded: 1, discarded: 0))
    }

    @Test func onServerLossDiscardDeletesAndKeepKeeps() async throws {
        let (recordings, directory, _) = try store()
        let discarded = try await recordings.begin(call: "c1", remote: "2002")
        try writeSamples(160, to: discarded, close: true)
        await recordings.lost(discarded, policy: .discard)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
        let kept = try await recordings.begin(call: "c2", remote: "2003")
        try writeSamples(160, to: kept, close: true)
        await recordings.lost(kept, policy: .keep)
        #expect(await recordings.counts == .init(pending: 1, uploaded: 0, discarded: 1))
        #expect(try WAV.read(kept).count == 160)
    }

    /// The phone was killed mid-recording: the file's header still says 0 samples. At the next
    /// start, `keep` mends the header from the file's length and queues it; `discard` deletes it.
    @Test func aRecordingCutShortByAKilledPhoneFollowsThePolicyAtTheNextStart() async throws {
        let (recordings, directory, _) = try store()
        let cut = try await recordings.begin(call: "c1", remote: "2002")
        try writeSamples(480, to: cut, close: false)
        #expect(try WAV.read(cut).isEmpty, "the header was never completed")
        let restarted = try CallRecordings(directory: directory)
        await restarted.recover(policy: .keep)
        #expect(await restarted.counts.pending == 1)
        #expect(try WAV.read(cut).count == 480)

        let other = try await restarted.begin(call: "c2", remote: "2003")
        try writeSamples(480, to: other, close: false)
        let again = try CallRecordings(directory: directory)
        await again.recover(policy: .discard)
        #expect(await again.counts == .init(pending: 1, uploaded: 0, discarded: 1), "the kept one stays pending")
        #expect(!FileManager.default.fileExists(atPath: other.path))
    }
}
