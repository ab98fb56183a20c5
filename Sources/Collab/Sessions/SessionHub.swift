// Who is online and what each user is told: one event log per user (so a phone that reconnects
// resumes from its last sequence), session counts, and presence, fanned out to every user.

import Foundation
import Logging
import Synchronization
import Wire

public actor SessionHub {
    let epoch: String
    let capacity: Int
    private var logs: [String: EventLog] = [:]
    private var sessions: [String: Int] = [:]
    private var chosen: [String: Presence] = [:]
    private var calls: [String: Set<String>] = [:]
    private var effective: [String: Presence] = [:]
    private let users: [String]
    let store: any CollabStore
    let logger: Logger
    let now: @Sendable () -> Date

    init(users: [String], store: any CollabStore, capacity: Int, logger: Logger, now: @escaping @Sendable () -> Date) throws {
        self.users = users
        self.store = store
        self.capacity = capacity
        self.logger = logger
        self.now = now
        epoch = UUID().uuidString
        let start = now()
        let stored = Dictionary(try store.presence().map { ($0.user, $0) }, uniquingKeysWith: { a, _ in a })
        for user in users {
            chosen[user] = stored[user] ?? Presence(user: user, state: .available, updatedAt: start)
            effective[user] = Presence(user: user, state: .offline, note: chosen[user]?.note, updatedAt: stored[user]?.updatedAt ?? start)
        }
    }

    func log(_ user: String) -> EventLog {
        if let log = logs[user] { return log }
        let log = EventLog(capacity: capacity, epoch: epoch)
        logs[user] = log
        return log
    }

    /// Appends an event to each user's stream.
    func publish(_ event: CollabEvent, _ fields: [String: JSONValue], to users: some Sequence<String>) {
        let time = now()
        for user in Set(users) { log(user).append(event.rawValue, fields, time: time) }
    }

    func publishToAll(_ event: CollabEvent, _ fields: [String: JSONValue]) { publish(event, fields, to: users) }

    var onlineCount: Int { sessions.values.reduce(0, +) }
    func isOnline(_ user: String) -> Bool { (sessions[user] ?? 0) > 0 }

    // MARK: Sessions

    /// A phone session of `user` started. Returns true when the user just came online.
    @discardableResult
    func opened(_ user: String) -> Bool {
        sessions[user, default: 0] += 1
        guard sessions[user] == 1 else { return false }
        refreshPresence(user)
        let watchers = (try? store.loginNotifyWatchers(of: user)) ?? []
        if !watchers.isEmpty { publish(.loginNotifyOnline, ["user": .string(user)], to: watchers) }
        return true
    }

    func closed(_ user: String) {
        sessions[user] = max(0, (sessions[user] ?? 1) - 1)
        if sessions[user] == 0 { refreshPresence(user) }
    }

    // MARK: Presence

    var allPresence: [Presence] { users.compactMap { effective[$0] } }

    func setPresence(_ user: String, state: PresenceState, note: String??) throws -> Presence {
        var choice = chosen[user] ?? Presence(user: user, state: state, updatedAt: now())
        choice.state = state
        if let note { choice.note = note }
        choice.updatedAt = now()
        try store.savePresence(choice)
        chosen[user] = choice
        refreshPresence(user, force: true)
        return effective[user]!
    }

    /// Calls the user is in, from the call server's events (`call` ids).
    func setCalls(_ user: String, _ ids: Set<String>) {
        guard users.contains(user), calls[user] ?? [] != ids else { return }
        calls[user] = ids
        refreshPresence(user)
    }

    func addCall(_ id: String, for user: String) { setCalls(user, (calls[user] ?? []).union([id])) }
    func removeCall(_ id: String) {
        for (user, ids) in calls where ids.contains(id) { setCalls(user, ids.subtracting([id])) }
    }
    func removeCall(_ id: String, for user: String) { setCalls(user, (calls[user] ?? []).subtracting([id])) }
    func replaceAllCalls(_ byUser: [String: Set<String>]) {
        for user in users { setCalls(user, byUser[user] ?? []) }
    }

    private func refreshPresence(_ user: String, force: Bool = false) {
        guard let choice = chosen[user] else { return }
        let online = (sessions[user] ?? 0) > 0
        var next = Presence(user: user, state: online ? choice.state : .offline, onThePhone: !(calls[user] ?? []).isEmpty, note: choice.note,
                            updatedAt: effective[user]?.updatedAt ?? now())
        let before = effective[user]
        if force || before?.state != next.state || before?.onThePhone != next.onThePhone || before?.note != next.note {
            next.updatedAt = now()
            effective[user] = next
            publishToAll(.presenceChanged, Self.json(next))
        }
    }

    static func json(_ presence: Presence) -> [String: JSONValue] {
        (try? JSONValue(encoding: presence))?.objectValue ?? ["user": .string(presence.user)]
    }
}

/// The WebSocket sessions open with each login token, so a logout ends them at once.
final class TokenSessions: Sendable {
    private let sessions = Mutex<[String: [UUID: AsyncStream<Void>.Continuation]]>([:])

    /// Registers a session of `token`; the stream yields once when the token is logged out.
    func open(_ token: String) -> (UUID, AsyncStream<Void>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        sessions.withLock { $0[token, default: [:]][id] = continuation }
        return (id, stream)
    }

    func closed(_ token: String, _ id: UUID) {
        sessions.withLock { table in
            table[token]?.removeValue(forKey: id)?.finish()
            if table[token]?.isEmpty == true { table[token] = nil }
        }
    }

    /// Ends every session of `token`.
    func close(_ token: String) {
        let ending = sessions.withLock { $0.removeValue(forKey: token) ?? [:] }
        for continuation in ending.values {
            continuation.yield()
            continuation.finish()
        }
    }

    var count: Int { sessions.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
