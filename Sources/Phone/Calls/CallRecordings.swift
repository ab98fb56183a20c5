// Call recordings on the phone. While a call is recorded its WAV is written under
// DIR/recordings (folder 0700, files 0600); when recording stops it goes to the collaboration
// server's recordings store and the local copy is deleted once the server has it. When the
// server is lost in the middle of a recording, recording stops and the policy decides: `discard`
// (the default) deletes the partial file, `keep` keeps it and uploads it when the server returns.
// A recording the phone was killed in the middle of is treated the same way at the next start.

import Audio
import Foundation
import Logging

public actor CallRecordings {
    /// What the server is told with the WAV, kept beside it as `<id>.json`.
    public struct Meta: Codable, Sendable, Equatable {
        public enum State: String, Codable, Sendable { case recording, pending }
        public var call: String
        public var remote: String
        public var startedAt: Date
        public var state: State
    }

    public struct Counts: Codable, Sendable, Equatable {
        /// Recordings on the phone waiting for the server.
        public var pending = 0
        /// Handed to the server since the phone started.
        public var uploaded = 0
        /// Partial recordings deleted on server loss (policy `discard`) since the phone started.
        public var discarded = 0
    }

    public typealias Upload = @Sendable (_ wav: Data, _ meta: Meta) async throws -> Void

    let directory: URL
    private var upload: Upload?
    private var changed: @Sendable () async -> Void = {}
    private var uploaded = 0
    private var discarded = 0
    private var uploads: Task<Void, Never>?
    private let logger = Logger(label: "holdfast.phone.recordings")

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
    }

    /// How recordings reach the server (the collaboration link), and whom to tell of an upload.
    func connect(_ upload: @escaping Upload, changed: @escaping @Sendable () async -> Void) {
        self.upload = upload
        self.changed = changed
    }

    public var counts: Counts {
        Counts(pending: metas().filter { $0.meta.state == .pending }.count, uploaded: uploaded, discarded: discarded)
    }

    /// A new recording's file (created by the media session) and its metadata.
    func begin(call: String, remote: String) throws -> URL {
        let id = UUID().uuidString
        try write(Meta(call: call, remote: remote, startedAt: Date(), state: .recording), id: id)
        return directory.appendingPathComponent("\(id).wav")
    }

    /// The media session could not start the recording.
    func cancel(_ wav: URL) { remove(id: wav.deletingPathExtension().lastPathComponent) }

    /// Recording stopped normally: the file goes to the server.
    func finished(_ wav: URL) {
        markPending(wav)
        Task { await uploadPending() }
    }

    /// The server was lost while recording: `discard` deletes the partial file, `keep` keeps it
    /// for the server's return.
    func lost(_ wav: URL, policy: PhoneConfiguration.RecordingPolicy) {
        switch policy {
        case .discard:
            remove(id: wav.deletingPathExtension().lastPathComponent)
            discarded += 1
            logger.notice("partial recording discarded (server lost)", metadata: ["file": "\(wav.lastPathComponent)"])
        case .keep:
            markPending(wav)
            logger.notice("partial recording kept for upload (server lost)", metadata: ["file": "\(wav.lastPathComponent)"])
        }
    }

    /// At start: recordings cut short by the end of the previous process follow the policy.
    func recover(policy: PhoneConfiguration.RecordingPolicy) {
        for (id, meta) in metas() where meta.state == .recording {
            let wav = directory.appendingPathComponent("\(id).wav")
            if policy == .keep { try? WAV.repairSizes(at: wav) }
            lost(wav, policy: policy)
        }
    }

    /// Uploads every pending recording, oldest first; stops at the first failure (the server is
    /// gone or refuses) and leaves the rest for the next try. Passes run one after another, and
    /// this returns when its own pass is done.
    func uploadPending() async {
        let previous = uploads
        let pass = Task { await previous?.value; await self.uploadPass() }
        uploads = pass
        await pass.value
    }

    private func uploadPass() async {
        guard let upload else { return }
        for (id, meta) in metas().filter({ $0.meta.state == .pending }).sorted(by: { $0.meta.startedAt < $1.meta.startedAt }) {
            do {
                let wav = try Data(contentsOf: directory.appendingPathComponent("\(id).wav"))
                try await upload(wav, meta)
                remove(id: id)
                uploaded += 1
                await changed()
                logger.info("recording uploaded", metadata: ["call": "\(meta.call)", "bytes": "\(wav.count)"])
            } catch {
                logger.warning("recording kept for a later upload", metadata: ["call": "\(meta.call)", "error": "\(error)"])
                return
            }
        }
    }

    // MARK: - Files

    private func markPending(_ wav: URL) {
        let id = wav.deletingPathExtension().lastPathComponent
        guard var meta = meta(id: id) else { return }
        meta.state = .pending
        try? write(meta, id: id)
    }

    private func write(_ meta: Meta, id: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        try PhoneCache.writePrivate(try encoder.encode(meta), to: directory.appendingPathComponent("\(id).json"))
    }

    private func meta(id: String) -> Meta? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return (try? Data(contentsOf: directory.appendingPathComponent("\(id).json"))).flatMap { try? decoder.decode(Meta.self, from: $0) }
    }

    private func metas() -> [(id: String, meta: Meta)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.compactMap { name in
            let id = String(name.dropLast(5))
            return meta(id: id).map { (id, $0) }
        }
    }

    private func remove(id: String) {
        try? FileManager.default.removeItem(at: directory.appendingPathComponent("\(id).wav"))
        try? FileManager.default.removeItem(at: directory.appendingPathComponent("\(id).json"))
    }
}
