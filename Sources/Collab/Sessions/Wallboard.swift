// The supervisor's wallboard: every ACD path's figures and every agent's state, read from the call
// server's CTI when an agent or a queue changes and pushed to every wallboard watching. Reads are
// coalesced (a burst of changes costs one read after the one in flight), each watcher holds at most
// the newest snapshot, and nothing is read while nobody watches.

import CTILink
import Foundation
import Logging
import Wire

actor Wallboard {
    let cti: CTIClient
    let logger: Logger
    let now: @Sendable () -> Date
    private(set) var snapshot: WallboardSnapshot?
    private var watchers: [UUID: AsyncStream<WallboardSnapshot>.Continuation] = [:]
    private var reading = false
    private var readAgain = false

    init(cti: CTIClient, logger: Logger, now: @escaping @Sendable () -> Date) {
        self.cti = cti
        self.logger = logger
        self.now = now
    }

    var watcherCount: Int { watchers.count }

    /// A stream of snapshots, the current one first; it ends when `unwatch` is called.
    func watch() -> (UUID, AsyncStream<WallboardSnapshot>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: WallboardSnapshot.self, bufferingPolicy: .bufferingNewest(1))
        watchers[id] = continuation
        if let snapshot { continuation.yield(snapshot) }
        changed()
        return (id, stream)
    }

    func unwatch(_ id: UUID) {
        watchers.removeValue(forKey: id)?.finish()
    }

    /// An agent or a queue changed (or the event stream came back): read again if anyone watches.
    func changed() {
        guard !watchers.isEmpty else {
            snapshot = nil  // stale by the time someone looks
            return
        }
        guard !reading else {
            readAgain = true
            return
        }
        reading = true
        Task { await self.readLoop() }
    }

    private func readLoop() async {
        repeat {
            readAgain = false
            let fresh = await read()
            snapshot = fresh
            for watcher in watchers.values { watcher.yield(fresh) }
        } while readAgain && !watchers.isEmpty
        reading = false
    }

    /// The figures now: read from the call server, or the last ones marked unreachable.
    func current() async -> WallboardSnapshot {
        if let snapshot, !watchers.isEmpty { return snapshot }  // kept fresh for the watchers
        return await read()
    }

    /// The call server's event stream was lost: what the watchers see is the last read, so marked.
    func lost() {
        guard var last = snapshot, last.callServer != "unreachable" else { return }
        last.callServer = "unreachable"
        snapshot = last
        for watcher in watchers.values { watcher.yield(last) }
    }

    private func read() async -> WallboardSnapshot {
        do {
            let paths = try await cti.request("GET", "paths").decode([PathInfo].self)
            let agents = try await cti.request("GET", "agents").decode([AgentInfo].self)
            return WallboardSnapshot(paths: paths, agents: agents, callServer: "connected", time: now())
        } catch {
            logger.warning("wallboard figures could not be read from the call server", metadata: ["error": "\(error)"])
            var last = snapshot ?? WallboardSnapshot(paths: [], agents: [], callServer: "unreachable", time: now())
            last.callServer = "unreachable"
            return last
        }
    }
}
