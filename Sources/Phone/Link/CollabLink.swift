// The phone's link to the collaboration server: login (or a token check) over HTTP, then one
// WebSocket session, supervised by `ServerSessionSupervisor` (heartbeats, loss, backoff, Try Now).
// What arrives updates the cache, so the phone has the latest state when the server goes away.
// Nothing here touches a call.

import Foundation
import HummingbirdWSClient
import Logging
import Wire
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public enum LinkError: Error, Sendable, Equatable {
    /// The collaboration server is out of service: the request was not sent.
    case offline
    /// The server answered with an error (its code, message and details).
    case refused(code: String, message: String, details: [String: String])
    case timedOut
}

public actor CollabLink {
    public struct Account: Sendable {
        public var baseURL: URL
        public var user: String
        public var password: String
        public init(baseURL: URL, user: String, password: String) {
            self.baseURL = baseURL
            self.user = user
            self.password = password
        }
    }

    public enum Change: Sendable {
        case mode(ServerMode, since: Date)
        /// The cache changed (provisioning, presence, contacts, settings, history).
        case cache(CachedSession)
        case event(StreamEvent)
    }

    private(set) var account: Account
    /// False after Log out, until the next login.
    public private(set) var loggedIn = true
    let cache: PhoneCache
    public private(set) var cached: CachedSession
    private var supervisor: ServerSessionSupervisor
    private let started = ContinuousClock.now
    private let startedDate = Date()
    private var generation = 0
    private var outgoing: AsyncStream<String>.Continuation?
    private var connection: Task<Void, Never>?
    private var heartbeatTimer: Task<Void, Never>?
    private var retryTimer: Task<Void, Never>?
    private var welcomeTimer: Task<Void, Never>?
    private var lampsTimer: Task<Void, Never>?
    private var pending: [Int64: CheckedContinuation<JSONValue, any Error>] = [:]
    private var nextRequestID: Int64 = 0
    private let onChange: @Sendable (Change) async -> Void
    private let logger = Logger(label: "holdfast.phone.link")
    private let session: URLSession

    public init(account: Account, cache: PhoneCache, heartbeatSeconds: Double, onChange: @escaping @Sendable (Change) async -> Void) {
        self.account = account
        self.cache = cache
        cached = cache.load() ?? CachedSession()
        var configuration = ServerSessionSupervisor.Configuration()
        configuration.heartbeatInterval = cached.provisioning?.heartbeatSeconds ?? heartbeatSeconds
        supervisor = ServerSessionSupervisor(configuration: configuration, now: 0)
        self.onChange = onChange
        let urlConfiguration = URLSessionConfiguration.ephemeral
        urlConfiguration.timeoutIntervalForRequest = 5
        session = URLSession(configuration: urlConfiguration)
    }

    public var mode: ServerMode { supervisor.mode }
    public var modeSince: Date { date(supervisor.modeSince) }

    public func start() {
        perform(supervisor.start())
        // A console on duty shows the office's lamps: read again every 2 s while the server is up.
        lampsTimer = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                await self?.refreshLamps()
            }
        }
    }
    public func tryNow() { perform(supervisor.tryNow()) }

    public func stop() {
        perform(supervisor.stop(now: now()))
        heartbeatTimer?.cancel()
        lampsTimer?.cancel()
    }

    /// Hands a call recording to the server's recordings store (`POST /api/v1/recordings`).
    public func uploadRecording(_ wav: Data, _ meta: CallRecordings.Meta) async throws {
        guard supervisor.mode == .online, let token = cached.token else { throw LinkError.offline }
        var components = URLComponents(url: account.baseURL.appendingPathComponent("api/v1/recordings"), resolvingAgainstBaseURL: false)
        components?.queryItems = [URLQueryItem(name: "call", value: meta.call), URLQueryItem(name: "remote", value: meta.remote),
                                  URLQueryItem(name: "startedAt", value: ISO8601DateFormatter().string(from: meta.startedAt))]
        guard let url = components?.url else { throw LinkError.refused(code: "invalid_request", message: "no recordings URL", details: [:]) }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("audio/wav", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await session.upload(for: request, from: wav)
        guard (response as? HTTPURLResponse)?.statusCode == 201 else {
            let error = (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue
            throw LinkError.refused(code: error?["error"]?.stringValue ?? "http_\((response as? HTTPURLResponse)?.statusCode ?? 0)",
                                    message: error?["message"]?.stringValue ?? "the server did not take the recording", details: [:])
        }
    }

    /// A voicemail message's audio (WAV) from the server, which has it from the call server.
    public func voicemailAudio(_ id: Int64) async throws -> Data {
        guard supervisor.mode == .online, let token = cached.token else { throw LinkError.offline }
        var request = URLRequest(url: account.baseURL.appendingPathComponent("api/v1/voicemail/\(id)/audio"))
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await session.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            let error = (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue
            throw LinkError.refused(code: error?["error"]?.stringValue ?? "http_\((response as? HTTPURLResponse)?.statusCode ?? 0)",
                                    message: error?["message"]?.stringValue ?? "the server has no such message", details: ["field": "id"])
        }
        return data
    }

    /// Logs out on the server (when reachable) and forgets the token.
    public func logout() async {
        // Offline the server cannot be told (a silent one would hold Log out for the request's
        // timeout); the token then ends at its expiry.
        if let token = cached.token, supervisor.mode == .online {
            var request = URLRequest(url: account.baseURL.appendingPathComponent("api/v1/logout"))
            request.httpMethod = "POST"
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            _ = try? await session.data(for: request)
        }
        stop()
        loggedIn = false
        cached.token = nil
        save()
    }

    /// Logs in again after Log out (the password may have changed).
    public func login(password: String) {
        account.password = password
        loggedIn = true
        perform(supervisor.start())
    }

    /// A request on the session; fails at once with `.offline` in limited mode.
    public func request(_ method: CollabMethod, _ params: [String: JSONValue] = [:]) async throws -> JSONValue {
        guard supervisor.mode == .online, let outgoing else { throw LinkError.offline }
        nextRequestID += 1
        let id = nextRequestID
        let text = Self.text(["type": .string(CollabFrame.request.rawValue), "id": .int(id), "method": .string(method.rawValue), "params": .object(params)])
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: .seconds(10))
            await self?.fail(id, LinkError.timedOut)
        }
        defer { timeout.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            pending[id] = continuation
            outgoing.yield(text)
        }
    }

    // MARK: - Supervisor actions

    private func perform(_ actions: [ServerSessionSupervisor.Action]) {
        for action in actions {
            switch action {
            case .connect:
                generation += 1
                let attempt = generation
                connection = Task { await self.connect(attempt) }
            case .closeConnection:
                generation += 1
                closeConnection()
            case .sendHeartbeat(let id):
                outgoing?.yield(Self.text(["type": .string(CollabFrame.heartbeat.rawValue), "id": .int(Int64(id))]))
            case .scheduleHeartbeat(let at):
                heartbeatTimer?.cancel()
                heartbeatTimer = timer(at) { $0.heartbeatDue() }
            case .scheduleRetry(let at):
                retryTimer?.cancel()
                retryTimer = timer(at) { $0.retryDue() }
            case .cancelRetry:
                retryTimer?.cancel()
            case .modeChanged(let mode, let since):
                logger.notice(mode == .online ? "collaboration server online" : "collaboration server lost: limited functionality")
                if mode == .offline {
                    heartbeatTimer?.cancel()
                    for (_, continuation) in pending { continuation.resume(throwing: LinkError.offline) }
                    pending = [:]
                }
                let change = Change.mode(mode, since: date(since))
                let onChange = self.onChange
                Task { await onChange(change) }
            }
        }
    }

    private func timer(_ at: Double, _ body: @escaping @Sendable (isolated CollabLink) -> Void) -> Task<Void, Never> {
        let delay = max(0, at - now())
        return Task { [weak self] in
            guard (try? await Task.sleep(for: .seconds(delay))) != nil, let self else { return }
            await self.run(body)
        }
    }

    private func run(_ body: @Sendable (isolated CollabLink) -> Void) { body(self) }
    private func heartbeatDue() { perform(supervisor.heartbeatDue(now: now(), random: Double.random(in: 0..<1))) }
    private func retryDue() { perform(supervisor.retryDue(now: now())) }

    private func closeConnection() {
        outgoing?.finish()
        outgoing = nil
        connection?.cancel()
        connection = nil
        welcomeTimer?.cancel()
    }

    private func fail(_ id: Int64, _ error: any Error) {
        pending.removeValue(forKey: id)?.resume(throwing: error)
    }

    // MARK: - Connecting

    private func connect(_ attempt: Int) async {
        do {
            try await authenticate()
        } catch {
            logger.info("collaboration server not reached", metadata: ["error": "\(error)"])
            if attempt == generation { perform(supervisor.connectFailed(now: now(), random: Double.random(in: 0..<1))) }
            return
        }
        guard attempt == generation, let token = cached.token else { return }
        let (stream, continuation) = AsyncStream<String>.makeStream()
        outgoing = continuation
        var hello: [String: JSONValue] = ["type": .string(CollabFrame.hello.rawValue)]
        if let epoch = cached.epoch, let sequence = cached.sequence {
            hello["epoch"] = .string(epoch)
            hello["after"] = .int(sequence)
        }
        continuation.yield(Self.text(hello))
        // No welcome within 5 s: the attempt failed (a server that accepts but does not answer).
        welcomeTimer = timer(now() + 5) { link in
            if attempt == link.generation, case .connecting = link.supervisor.state { link.lost(attempt) }
        }
        let url = account.baseURL.absoluteString.replacingOccurrences(of: "http://", with: "ws://").replacingOccurrences(of: "https://", with: "wss://")
            + "/api/v1/session"
        do {
            try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 22, additionalHeaders: [.authorization: "Bearer \(token)"]),
                                              logger: logger) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await text in stream { try await outbound.write(.text(text)) }
                    }
                    for try await message in inbound.messages(maxSize: 1 << 22) {
                        guard case .text(let text) = message else { continue }
                        await self.received(attempt, text)
                    }
                    group.cancelAll()
                }
            }
        } catch {
            logger.debug("session ended", metadata: ["error": "\(error)"])
        }
        lost(attempt)
    }

    private func lost(_ attempt: Int) {
        guard attempt == generation else { return }
        generation += 1
        closeConnection()
        perform(supervisor.connectionLost(now: now(), random: Double.random(in: 0..<1)))
    }

    /// A valid token (the cached one, checked by fetching fresh provisioning; else a new login).
    private func authenticate() async throws {
        if let token = cached.token {
            var request = URLRequest(url: account.baseURL.appendingPathComponent("api/v1/provisioning"))
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await session.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            if status == 200 {
                cached.provisioning = try Self.decoder.decode(Provisioning.self, from: data)
                cached.presenceUpdatedAt = Date()
                save()
                return
            }
            guard status == 401 else { throw LinkError.refused(code: "http_\(status)", message: "provisioning answered \(status)", details: [:]) }
            cached.token = nil
        }
        var request = URLRequest(url: account.baseURL.appendingPathComponent("api/v1/login"))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONEncoder().encode(["user": account.user, "password": account.password])
        let (data, response) = try await session.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            let body = (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue ?? [:]
            throw LinkError.refused(code: body["error"]?.stringValue ?? "login_failed", message: body["message"]?.stringValue ?? "login refused", details: [:])
        }
        let reply = try Self.decoder.decode(LoginReply.self, from: data)
        cached.token = reply.token
        cached.provisioning = reply.provisioning
        cached.presenceUpdatedAt = Date()
        save()
    }

    // MARK: - Receiving

    private func received(_ attempt: Int, _ text: String) {
        guard attempt == generation, let message = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))?.objectValue else { return }
        switch message["type"]?.stringValue.flatMap(CollabFrame.init(rawValue:)) {
        case .welcome?:
            welcomeTimer?.cancel()
            cached.epoch = message["epoch"]?.stringValue
            if message["resumed"]?.boolValue != true {
                cached.sequence = message["sequence"]?.intValue
                if let snapshot = message["snapshot"]?.objectValue { apply(snapshot: snapshot) }
            }
            save()
            perform(supervisor.connected(now: now()))
            // An agent's status is read again once the server is back: what changed meanwhile shows.
            if cached.acd != nil { Task { await self.refreshACD() } }
            Task { await self.refreshHotDesk() }
            Task { await self.refreshConsole() }
        case .heartbeat?:
            if let id = message["id"]?.intValue { supervisor.heartbeatAnswered(id: Int(id)) }
        case .response?:
            guard let id = message["id"]?.intValue, let continuation = pending.removeValue(forKey: id) else { return }
            if let error = message["error"]?.objectValue {
                var details: [String: String] = [:]
                for (key, value) in error where key != "error" && key != "message" { details[key] = value.stringValue }
                continuation.resume(throwing: LinkError.refused(code: error["error"]?.stringValue ?? "error", message: error["message"]?.stringValue ?? "",
                                                                details: details))
            } else {
                continuation.resume(returning: message["result"] ?? .null)
            }
        case .event?:
            guard let event = try? message["event"]?.decode(StreamEvent.self) else { return }
            cached.epoch = event.epoch
            cached.sequence = event.sequence
            apply(event)
            save()
            let onChange = self.onChange
            Task { await onChange(.event(event)) }
        default:
            break
        }
    }

    private func apply(snapshot: [String: JSONValue]) {
        guard var provisioning = cached.provisioning else { return }
        if let presence = try? snapshot["presence"]?.decode([Presence].self) { provisioning.presence = presence }
        if let contacts = try? snapshot["contacts"]?.decode([Contact].self) { provisioning.contacts = contacts }
        if let settings = try? snapshot["settings"]?.decode(CallSettings.self) { provisioning.settings = settings }
        if let history = try? snapshot["history"]?.decode([HistoryEntry].self) { cached.history = history }
        cached.provisioning = provisioning
        cached.presenceUpdatedAt = Date()
    }

    /// Keeps the cache current with what the server announces.
    private func apply(_ event: StreamEvent) {
        let fields = JSONValue.object(event.fields)
        switch event.collab {
        case .presenceChanged?:
            guard let presence = try? fields.decode(Presence.self) else { return }
            if let index = cached.provisioning?.presence.firstIndex(where: { $0.user == presence.user }) {
                cached.provisioning?.presence[index] = presence
            } else {
                cached.provisioning?.presence.append(presence)
            }
            cached.presenceUpdatedAt = Date()
        case .settingsChanged?:
            if let settings = try? fields.decode(CallSettings.self) { cached.provisioning?.settings = settings }
        case .contactsChanged?:
            if let added = try? event.fields["added"]?.decode(Contact.self) { cached.provisioning?.contacts.append(added) }
            if let updated = try? event.fields["updated"]?.decode(Contact.self),
               let index = cached.provisioning?.contacts.firstIndex(where: { $0.id == updated.id }) {
                cached.provisioning?.contacts[index] = updated
            }
            if let deleted = event.fields["deleted"]?.intValue { cached.provisioning?.contacts.removeAll { $0.id == deleted } }
        case .historyAdded?:
            if let entry = try? fields.decode(HistoryEntry.self) { cached.history.insert(entry, at: 0) }
        case .acdChanged?:
            guard let agent = event.fields["agent"]?.stringValue, let status = event.fields["status"]?.stringValue else { return }
            let known = cached.acd?.agent == agent ? cached.acd : nil
            cached.acd = AgentInfo(agent: agent, status: status, reason: event.fields["reason"]?.stringValue,
                                   device: event.fields["device"]?.stringValue, groups: known?.groups ?? [], paths: known?.paths ?? [],
                                   reasons: known?.reasons ?? [],
                                   wrapUpEndsAt: event.fields["wrapUpEndsAt"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            cached.acdUpdatedAt = Date()
        case .hotDeskChanged?:
            // Logged in here, or out (by the client elsewhere, `*2`, or a login at another phone).
            guard let info = try? fields.decode(HotDeskInfo.self) else { return }
            cached.hotDesk = info.loggedIn ? info : nil
            cached.hotDeskUpdatedAt = Date()
        default:
            return
        }
    }

    /// The ACD agent as the server reports it now (after a login, a change, a reconnection).
    public func setACD(_ status: AgentInfo?) {
        cached.acd = status
        cached.acdUpdatedAt = Date()
        save()
    }

    /// The hot-desk login as the server reports it now (after a login, a logout, a reconnection).
    public func setHotDesk(_ info: HotDeskInfo?) {
        cached.hotDesk = info?.loggedIn == true ? info : nil
        cached.hotDeskUpdatedAt = Date()
        save()
    }

    /// The console's duty as the server reports it (after a change, a reconnection).
    public func setConsole(_ info: ConsoleInfo?) {
        cached.console = info
        save()
    }

    private func refreshConsole() async {
        guard let reply = try? await request(.consoleStatus), let info = try? reply.decode(ConsoleInfo.self) else { return }
        setConsole(info)
        await refreshLamps()
    }

    /// The office's lamps, read again while this phone is a console on duty and the server is up
    /// (every 2 s; kept, not written to the cache file, each time).
    public func refreshLamps() async {
        guard cached.console?.active == true, supervisor.mode == .online,
              let reply = try? await request(.consoleLamps), let lamps = try? reply.decode([LampInfo].self) else { return }
        cached.lamps = lamps
        cached.lampsUpdatedAt = Date()
        let snapshot = cached, onChange = self.onChange
        Task { await onChange(.cache(snapshot)) }
    }

    private func refreshHotDesk() async {
        guard let reply = try? await request(.hotDeskStatus) else { return }
        setHotDesk(reply == .null ? nil : try? reply.decode(HotDeskInfo.self))
    }

    private func refreshACD() async {
        guard let reply = try? await request(.acdStatus) else { return }
        setACD(reply == .null ? nil : try? reply.decode(AgentInfo.self))
    }

    private func save() {
        do { try cache.save(cached) } catch { logger.error("cache not written", metadata: ["error": "\(error)"]) }
        let snapshot = cached, onChange = self.onChange
        Task { await onChange(.cache(snapshot)) }
    }

    // MARK: - Helpers

    private func now() -> Double {
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private func date(_ time: Double) -> Date { startedDate.addingTimeInterval(time) }

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    static func text(_ object: [String: JSONValue]) -> String {
        String(decoding: (try? JSONEncoder().encode(object)) ?? Data(), as: UTF8.self)
    }
}
