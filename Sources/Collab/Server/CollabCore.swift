// The collaboration server's parts, assembled once: store, accounts, sessions, the link to the call
// server, and what several requests share (directory, dialing, chat delivery, provisioning).

import ConfigFile
import Crypto
import CTILink
import Foundation
import HTTPJSON
import Logging
import Prometheus
import Wire

public final class CollabCore: Sendable {
    public let configuration: CollabConfiguration
    let store: any CollabStore
    let accounts: Accounts
    let hub: SessionHub
    let cti: CTIClient
    let follower: CTIEventFollower
    let history: HistorySync
    let wallboard: Wallboard
    let tokenSessions = TokenSessions()
    let directory: DirectorySnapshot
    let names: [String: String]
    let recordingsDirectory: URL
    let logger: Logger
    let now: @Sendable () -> Date
    let metrics: CollabMetrics

    public init(configuration: CollabConfiguration, dataDirectory: URL, store: (any CollabStore)? = nil,
                logger: Logger = Logger(label: "holdfast.collab"), now: @escaping @Sendable () -> Date = Date.init) throws {
        self.configuration = configuration
        let store = try store ?? SQLiteCollabStore(directory: dataDirectory)
        self.store = store
        self.logger = logger
        self.now = now
        recordingsDirectory = dataDirectory.appendingPathComponent("recordings")
        try PrivateFiles.directory(dataDirectory)
        try PrivateFiles.directory(recordingsDirectory)
        accounts = Accounts(store: store, configuration: configuration)
        try accounts.seed()
        let users = configuration.users.map(\.extensionNumber)
        hub = try SessionHub(users: users, store: store, capacity: configuration.eventHistory, logger: logger, now: now)
        guard let base = URL(string: configuration.callServer.cti.url) else { throw ConfigurationError("callServer.cti.url is not a URL") }
        cti = CTIClient(baseURL: base, secret: configuration.callServer.cti.secret)
        follower = CTIEventFollower(baseURL: base, secret: configuration.callServer.cti.secret, logger: logger)
        var names: [String: String] = [:]
        for user in configuration.users { names[user.extensionNumber] = user.name }
        self.names = names
        let entries = configuration.users.map { DirectoryEntry(kind: .user, name: $0.name, number: $0.extensionNumber) }
            + configuration.directory.map { DirectoryEntry(kind: .external, name: $0.name, number: $0.number) }
        let digest = SHA256.hash(data: (try? JSONEncoder().encode(entries)) ?? Data())
        directory = DirectorySnapshot(version: digest.prefix(8).map { String(format: "%02x", $0) }.joined(), entries: entries)
        history = HistorySync(cti: cti, store: store, hub: hub, names: names, logger: logger)
        wallboard = Wallboard(cti: cti, logger: logger, now: now)
        metrics = CollabMetrics()
    }

    /// How many keys the login limits hold now (bounded whatever is tried).
    public var loginFailureKeys: Int { accounts.failureKeys }

    var watcher: CallServerWatcher { CallServerWatcher(cti: cti, follower: follower, hub: hub, history: history, wallboard: wallboard, logger: logger) }

    func knownUser(_ number: String, field: String) throws -> String {
        guard names[number] != nil else {
            throw APIError(.notFound, "unknown_user", "there is no user \(number)", details: ["field": field, "user": number])
        }
        return number
    }

    /// The number typed, after the office's dialing rules.
    func dial(_ typed: String, field: String) throws -> String {
        do {
            return try configuration.dialingRules.apply(to: typed)
        } catch .empty {
            throw APIError.invalid(field, "a number with at least one digit")
        } catch .invalidCharacter(let c) {
            throw APIError.invalid(field, "a phone number (\"\(c)\" is not allowed)")
        }
    }

    // MARK: Chat

    /// Stores the message, then tells the recipient's sessions and the sender's other sessions.
    /// A recipient online now has it delivered at once; one offline gets it at its next session.
    func sendChat(from: String, to: String, text: String) async throws -> ChatMessage {
        var message = try store.appendChat(from: from, to: to, text: text, at: now())
        metrics.chatMessages.increment()
        if await hub.isOnline(to), let delivered = try store.markDelivered([message.id], at: now()).first { message = delivered }
        await hub.publish(.chatMessage, try JSONValue(encoding: message).objectValue ?? [:], to: [to, from])
        return message
    }

    /// Chats that waited for `user` to come online: sent now, and their senders told.
    func deliverPending(to user: String) async throws {
        let pending = try store.undeliveredChats(to: user)
        guard !pending.isEmpty else { return }
        for message in try store.markDelivered(pending.map(\.id), at: now()) {
            let fields = try JSONValue(encoding: message).objectValue ?? [:]
            await hub.publish(.chatMessage, fields, to: [user])
            await hub.publish(.chatDelivered, fields, to: [message.from])
        }
    }

    func markRead(reader: String, peer: String, upTo: Int64) async throws -> Int {
        let changed = try store.markRead(reader: reader, peer: peer, upTo: upTo, at: now())
        for message in changed {
            await hub.publish(.chatRead, try JSONValue(encoding: message).objectValue ?? [:], to: [message.from])
        }
        return changed.count
    }

    // MARK: What a phone is given

    /// The call server's settings for `user`, or nil when it cannot be asked.
    func settings(of user: String) async -> CallSettings? {
        try? await cti.request("GET", "users/\(user)/features").decode(CallSettings.self)
    }

    func provisioning(for user: String) async throws -> Provisioning {
        let account = configuration.user(user)
        let call = configuration.callServer
        return Provisioning(
            user: user, name: account?.name ?? user,
            sip: SIPAccount(username: user, password: account?.sipPassword ?? account?.password ?? "", domain: call.domain,
                            primary: call.primary, secondary: call.secondary, borderProxy: call.borderProxy,
                            // Read at each login, so a CA made again reaches phones without a restart.
                            tlsCA: call.tlsCA.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }),
            heartbeatSeconds: configuration.heartbeatSeconds, directory: directory, contacts: try store.contacts(of: user),
            settings: await settings(of: user), dialingRules: configuration.dialingRules, presence: await hub.allPresence)
    }

    /// What a phone that could not resume is sent: the state to replace its own with.
    func snapshot(for user: String) async throws -> JSONValue {
        .object([
            "presence": try JSONValue(encoding: await hub.allPresence),
            "contacts": try JSONValue(encoding: try store.contacts(of: user)),
            "settings": try JSONValue(encoding: await settings(of: user)),
            "directoryVersion": .string(directory.version),
            "history": try JSONValue(encoding: try store.history(user: user, kind: nil, before: nil, limit: 50)),
            "loginNotify": .array(try store.loginNotifyTargets(of: user).map(JSONValue.string)),
        ])
    }
}

/// The counters and gauges `GET /metrics` shows (Prometheus text format).
final class CollabMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let loginsAccepted: Counter
    let loginsRefused: Counter
    let loginsRateLimited: Counter
    let sessions: Gauge
    let requests: Counter
    let requestErrors: Counter
    let heartbeats: Counter
    let chatMessages: Counter

    init() {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "holdfast", subsystem: "collab", metricName: metric, unitName: unit, helpText: help)
        }
        let logins = name("logins", "total", "login attempts by result")
        loginsAccepted = registry.makeCounter(descriptor: logins, labels: [("result", "accepted")])
        loginsRefused = registry.makeCounter(descriptor: logins, labels: [("result", "refused")])
        loginsRateLimited = registry.makeCounter(descriptor: logins, labels: [("result", "rate_limited")])
        sessions = registry.makeGauge(descriptor: name("sessions", "", "phone sessions open now"))
        requests = registry.makeCounter(descriptor: name("requests", "total", "requests received on phone sessions"))
        requestErrors = registry.makeCounter(descriptor: name("request_errors", "total", "requests answered with an error"))
        heartbeats = registry.makeCounter(descriptor: name("heartbeats", "total", "heartbeats answered"))
        chatMessages = registry.makeCounter(descriptor: name("chat_messages", "total", "chat messages sent"))
    }

    var text: String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
