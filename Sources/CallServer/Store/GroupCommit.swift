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
        var waiters: [(since: UInt64, through: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
        /// Numbers (1-based, in queueing order) of the latest writes that failed, at most 1,000.
        var failed: [UInt64] = []
    }

    private let database: DatabaseQueue
    private let queue = DispatchQueue(label: "holdfast.pbx.store-writer")
    private let state = Mutex(State())
    private let logger = Logger(label: "holdfast.pbx.store")

    init(database: DatabaseQueue) {
        self.database = database
    }

    /// Queues a write; the writer starts if it is idle. Returns the write's ticket, for
    /// `durable(through:)`.
    @discardableResult
    func enqueue(_ job: @escaping Job) -> UInt64 {
        let (start, ticket) = state.withLock { state -> (Bool, UInt64) in
            state.pending.append(job)
            state.queued += 1
            if state.draining { return (false, state.queued) }
            state.draining = true
            return (true, state.queued)
        }
        if start { queue.async { self.drain() } }
        return ticket
    }

    /// Returns once the write of `ticket` (and every one before it) is committed: whether that
    /// write was stored.
    nonisolated(nonsending) func durable(through ticket: UInt64) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let answer = state.withLock { state -> Bool? in
                if state.finished >= ticket { return !state.failed.contains(ticket) }
                state.waiters.append((ticket - 1, ticket, continuation))
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    /// Returns once every write queued before the call is committed: true when all of those
    /// still in flight at the call were stored, false when one of them failed (the caller's own
    /// may be it, so the caller must not answer as if it were durable). Runs on the caller's
    /// executor (the call server's event loop): no hop to the global executor and back.
    @discardableResult
    nonisolated(nonsending) func durable() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let done = state.withLock { state -> Bool in
                if state.finished >= state.queued { return true }
                state.waiters.append((state.finished, state.queued, continuation))
                return false
            }
            if done { continuation.resume(returning: true) }
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
            let first = state.withLock { $0.finished } + 1
            let failures = commit(batch).map { first + UInt64($0) }
            let ready = state.withLock { state -> [(CheckedContinuation<Bool, Never>, Bool)] in
                state.finished += UInt64(batch.count)
                state.failed += failures
                if state.failed.count > 1000 { state.failed.removeFirst(state.failed.count - 1000) }
                let finished = state.finished, failed = state.failed
                let ready = state.waiters.filter { $0.through <= finished }.map { waiter in
                    (waiter.continuation, !failed.contains { $0 > waiter.since && $0 <= waiter.through })
                }
                state.waiters.removeAll { $0.through <= finished }
                return ready
            }
            for (continuation, stored) in ready { continuation.resume(returning: stored) }
        }
    }

    /// One transaction for the batch. Should a write fail, the batch is undone and its writes
    /// made one transaction each, so only the failing one (logged) is lost. Returns the indexes
    /// in the batch of the writes that failed.
    private func commit(_ batch: [Job]) -> [Int] {
        do {
            try database.write { db in
                for job in batch { try job(db) }
            }
            return []
        } catch {
            var failed: [Int] = []
            for (index, job) in batch.enumerated() {
                do {
                    try database.write { db in try job(db) }
                } catch {
                    failed.append(index)
                    logger.error("a write was not stored", metadata: ["error": "\(error)"])
                }
            }
            return failed
        }
    }
}
