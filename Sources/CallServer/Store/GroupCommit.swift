// Writes taken off the request path. Jobs queue up; one background writer commits whatever has
// queued, in one transaction (group commit); a caller that must not answer before its write is
// durable awaits `durable()`. A WAL checkpoint or a slow disk then delays the writer, not SIP
// processing, and a thousand calls a second cost a few commits, not a thousand.

import Dispatch
import GRDB
import Logging
import Synchronization

final class GroupCommit: Sendable {
    typealias Job = @Sendable (Database) throws -> Void

    private struct State {
        var pending: [Job] = []
        /// Jobs ever queued, and ever finished (committed, or failed and logged).
        var queued: UInt64 = 0
        var finished: UInt64 = 0
        var draining = false
        var waiters: [(through: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let database: DatabaseQueue
    private let queue = DispatchQueue(label: "holdfast.pbx.store-writer")
    private let state = Mutex(State())
    private let logger = Logger(label: "holdfast.pbx.store")

    init(database: DatabaseQueue) {
        self.database = database
    }

    /// Queues a write; the writer starts if it is idle.
    func enqueue(_ job: @escaping Job) {
        let start = state.withLock { state -> Bool in
            state.pending.append(job)
            state.queued += 1
            if state.draining { return false }
            state.draining = true
            return true
        }
        if start { queue.async { self.drain() } }
    }

    /// Returns once every write queued before the call is committed. Runs on the caller's
    /// executor (the call server's event loop): no hop to the global executor and back.
    nonisolated(nonsending) func durable() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.finished >= state.queued { return true }
                state.waiters.append((state.queued, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// `durable()` for synchronous callers (reads that must see every queued write).
    func flush() {
        queue.sync {}
    }

    private func drain() {
        while true {
            let batch = state.withLock { state -> [Job] in
                let batch = state.pending
                state.pending = []
                if batch.isEmpty { state.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            commit(batch)
            let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.finished += UInt64(batch.count)
                let finished = state.finished
                let ready = state.waiters.filter { $0.through <= finished }.map(\.continuation)
                state.waiters.removeAll { $0.through <= finished }
                return ready
            }
            for continuation in ready { continuation.resume() }
        }
    }

    /// One transaction for the batch. Should a write fail, the batch is undone and its writes
    /// made one transaction each, so only the failing one (logged) is lost.
    private func commit(_ batch: [Job]) {
        do {
            try database.write { db in
                for job in batch { try job(db) }
            }
        } catch {
            for job in batch {
                do {
                    try database.write { db in try job(db) }
                } catch {
                    logger.error("a write was not stored", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
