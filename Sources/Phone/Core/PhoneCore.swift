// The softphone's core: the collaboration link (supervised), the SIP registration, and the state
// the API and UI show, with the capabilities the table allows at this moment. Calls and their SIP
// live apart from the link: losing the collaboration server changes what is offered, never a call.

import ConfigFile
import HTTPJSON
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import SIP
import TLSFiles
import SIPCore
import SIPMessage
import Wire

public actor PhoneCore {
    public static let banner = "Connection Lost - Limited Functionality"

    public let configuration: PhoneConfiguration
    let link: CollabLink
    private(set) var mode: ServerMode = .offline
    private(set) var modeSince = Date()
    private(set) var cached: CachedSession
    /// The conference rooms this user is in, as the collaboration server last told (by room).
    private var conferences: [String: ConferenceRoomStatus] = [:]
    private var registrationStatus: Registration.Status = .unregistered
    private var registration: Registration?
    private var registrationGeneration = 0
    private var failover = CallServerFailover(hasSecondary: false)
    private var ua: UserAgent?
    private var sip: SIPAccount?
    private var localPort = 5060
    private var probing: Task<Void, Never>?
    private var notices: [String] = []
    public private(set) var settings: PhoneSettings
    private let settingsFile: URL
    /// Where the phone keeps its files (cache, settings, the provisioned TLS CA).
    let dataDirectory: URL
    /// RFC 5626 instance id, the same across restarts (DIR/instance-id): the call server replaces
    /// this phone's binding when it registers again instead of keeping a dead one beside it.
    private let instanceID: String
    /// This core, weakly, for the callbacks of the parts it owns (calls, link, recordings).
    private let this: WeakCore
    /// Set before the first await of `startSIP`, so a second cache change does not start SIP twice.
    private var sipStarted = false
    private var stack: SIPStack?
    public let calls: PhoneCalls
    public let recordings: CallRecordings
    private var subscribers: [UUID: AsyncStream<JSONValue>.Continuation] = [:]
    private let logger = Logger(label: "holdfast.phone")

    public init(configuration: PhoneConfiguration, dataDirectory: URL, audio: PhoneAudio = PhoneAudio()) throws {
        self.configuration = configuration
        let cache = try PhoneCache(directory: dataDirectory)
        cached = cache.load() ?? CachedSession()
        settingsFile = dataDirectory.appendingPathComponent("phone-settings.json")
        self.dataDirectory = dataDirectory
        instanceID = try Self.instanceID(in: dataDirectory)
        let stored = (try? Data(contentsOf: settingsFile)).flatMap { try? JSONDecoder().decode(PhoneSettings.self, from: $0) }
        let settings = stored ?? PhoneSettings(configuration)
        self.settings = settings
        let box = WeakCore()
        this = box
        recordings = try CallRecordings(directory: dataDirectory.appendingPathComponent("recordings"))
        calls = PhoneCalls(host: configuration.sipHost, audio: audio, recordings: recordings, autoAnswer: settings.autoAnswer,
                           mediaEncryption: configuration.mediaEncryption, nameFor: { number in await box.core?.directoryName(number) },
                           changed: { await box.core?.callsChanged() })
        guard let base = URL(string: configuration.collab) else { throw ConfigurationError("collab is not a URL") }
        link = CollabLink(account: .init(baseURL: base, user: configuration.user, password: configuration.password), cache: cache,
                          heartbeatSeconds: configuration.heartbeatSeconds) { change in await box.core?.linkChanged(change) }
        box.core = self
    }

    private static func instanceID(in directory: URL) throws -> String {
        let file = directory.appendingPathComponent("instance-id")
        if let text = try? String(contentsOf: file, encoding: .utf8), let id = UUID(uuidString: text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return id.uuidString.lowercased()
        }
        let id = UUID().uuidString.lowercased()
        try PhoneCache.writePrivate(Data(id.utf8), to: file)
        return id
    }

    /// The name the cached directory (or a personal contact) gives a number: caller identity
    /// while ringing, also offline.
    func directoryName(_ number: String) -> String? {
        guard let provisioning = cached.provisioning else { return nil }
        let digits = { (s: String) in s.filter { $0.isNumber } }
        if let entry = provisioning.directory.entries.first(where: { $0.number == number || digits($0.number) == digits(number) }) { return entry.name }
        return provisioning.contacts.first(where: { digits($0.number) == digits(number) })?.name
    }

    func callsChanged() async { await publish() }

    /// Changes the phone's own preferences and keeps them (0600) across restarts.
    public func update(_ change: (inout PhoneSettings) -> Void) async throws -> PhoneSettings {
        var next = settings
        change(&next)
        try PhoneCache.writePrivate(try JSONEncoder().encode(next), to: settingsFile)
        settings = next
        await calls.setAutoAnswer(next.autoAnswer)
        await publish()
        return next
    }

    /// A bot's habit (the demo's 2002): every digit heard on a call is sent back on it.
    public func echoDigits() async { await calls.setEchoDigits(true) }

    /// Starts supervision of the collaboration session and, from the cache if there is one, the
    /// SIP registration: a phone started while the server is down still calls (cold start).
    public func start() async {
        let link = self.link
        let box = this
        await recordings.connect({ wav, meta in try await link.uploadRecording(wav, meta) }, changed: { await box.core?.publish() })
        await recordings.recover(policy: settings.recordingPolicy)
        await link.start()
        if let provisioning = cached.provisioning { await startSIP(provisioning) }
    }

    public func stop() async {
        probing?.cancel()
        await link.stop()
        await registration?.stop()
        await stack?.shutdown()
    }

    public func tryNow() async { await link.tryNow() }

    public func logout() async {
        logger.notice("logging out")
        await link.logout()
        probing?.cancel()
        await registration?.stop()
        registrationStatus = .unregistered
        await publish()
    }

    /// Logs in again after Log out: the session with the collaboration server, and the
    /// registration with the call server from the provisioning it (or the cache) gives.
    public func login(password: String) async {
        logger.notice("logging in")
        await link.login(password: password)
        guard sipStarted else { return }
        await register(on: failover.current)
        startProbing()
    }

    // MARK: - Changes

    func linkChanged(_ change: CollabLink.Change) async {
        switch change {
        case .mode(let next, let since):
            mode = next
            modeSince = since
            // Recording needs the server: it stops on loss (the policy keeps or discards the
            // partial file); kept ones go up when the server is back.
            if next == .offline {
                await calls.serverLost(policy: settings.recordingPolicy)
            } else {
                let recordings = self.recordings
                Task { await recordings.uploadPending() }
            }
        case .cache(let session):
            cached = session
            if let provisioning = session.provisioning { await startSIP(provisioning) }
        case .event(let event):
            // What the user should be told of (the window shows the latest).
            if event.collab == .loginNotifyOnline, let user = event.fields["user"]?.stringValue {
                notices.append("\(directoryName(user) ?? user) (\(user)) is online")
            } else if event.collab == .chatMessage, event.fields["to"]?.stringValue == configuration.user, let from = event.fields["from"]?.stringValue {
                notices.append("Message from \(directoryName(from) ?? from): \(event.fields["text"]?.stringValue ?? "")")
            }
            if notices.count > 10 { notices.removeFirst(notices.count - 10) }
            if event.collab == .conferenceChanged, let room = event.fields["room"]?.stringValue {
                let status = try? event.fields["status"]?.decode(ConferenceRoomStatus.self)
                conferences[room] = status.flatMap { $0.participants.contains { $0.number == configuration.user } ? $0 : nil }
                // Rooms whose closing was missed (offline) go once no call is in them.
                if conferences.count > 8 {
                    let live = await calls.snapshots()
                    conferences = conferences.filter { _, room in live.contains { call in conference(of: call)?.number == room.number } }
                }
            }
        }
        await publish()
    }

    // MARK: - SIP registration

    /// SIP requests refused because they came from none of the phone's servers.
    let sipRefused = Counter()

    final class Counter: Sendable {
        private let value = Mutex(0)
        func add() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    /// The IP addresses of the servers (IP literals as they are; names resolved once).
    static func addresses(of servers: [SIPServerAddress]) -> Set<String> {
        var found = Set<String>()
        for server in servers {
            if let address = try? SocketAddress(ipAddress: server.host, port: server.port), let ip = address.ipAddress {
                found.insert(ip)
            } else if let resolved = try? SocketAddress.makeAddressResolvingHost(server.host, port: server.port), let ip = resolved.ipAddress {
                found.insert(ip)
            }
        }
        return found
    }

    private func startSIP(_ provisioning: Provisioning) async {
        guard !sipStarted else { return }
        sipStarted = true
        do {
            let sip = provisioning.sip
            var transportConfiguration = SIPTransport.Configuration()
            if [sip.primary, sip.secondary, sip.borderProxy].contains(where: { $0?.transport.lowercased() == "tls" }) {
                transportConfiguration.tls = try Self.sipTLS(configuration, provisionedCA: sip.tlsCA, dataDirectory: dataDirectory)
            }
            let transport = SIPTransport(group: MultiThreadedEventLoopGroup.singleton, configuration: transportConfiguration)
            let local = try await transport.listen(.udp, host: configuration.sipHost, port: configuration.sipPort)
            let stack = SIPStack(transport: transport)
            // SIP requests only from this phone's call servers and border proxy: anyone else's
            // INVITE (a spoofed caller ID, no call server, no CDR) gets 403 and is counted.
            let servers = Self.addresses(of: [sip.primary, sip.secondary, sip.borderProxy].compactMap { $0 })
            let refused = sipRefused
            await stack.setAdmission { source in
                guard let address = source.ipAddress, servers.contains(address) else {
                    refused.add()
                    return .refuse(status: 403, reason: "Forbidden (only this phone's call servers may send it requests)")
                }
                return .admit
            }
            let ua = UserAgent(stack: stack, identity: .init(user: sip.username, displayName: provisioning.name, domain: sip.domain,
                                                             credentials: DigestAuthenticator(username: sip.username, password: sip.password)),
                               delegate: calls)
            await ua.start()
            self.stack = stack
            self.ua = ua
            self.sip = sip
            localPort = local.port ?? 5060
            // Through a border proxy, the proxy chooses the call server; else primary, then secondary.
            failover = CallServerFailover(hasSecondary: sip.borderProxy == nil && sip.secondary != nil)
            await register(on: .primary)
            startProbing()
        } catch {
            logger.error("SIP could not start", metadata: ["error": "\(error)"])
        }
    }

    /// What the phone trusts when its servers are reached over TLS: the pinned fingerprint, else
    /// the configured CA, else the CA provisioning gave (kept 0600 beside the cache, so it holds
    /// offline too), else the system's roots; the server must name the address connected to.
    static func sipTLS(_ configuration: PhoneConfiguration, provisionedCA: String?, dataDirectory: URL) throws -> SIPTLS {
        if let pin = configuration.sipFingerprint {
            return SIPTLS(client: try TLSContexts.client(caFile: nil), acceptServer: try TLSContexts.pinned(pin))
        }
        if let ca = configuration.sipCA { return SIPTLS(client: try TLSContexts.client(caFile: ca)) }
        if let provisionedCA {
            let file = dataDirectory.appendingPathComponent("sip-ca.pem")
            guard FileManager.default.createFile(atPath: file.path, contents: Data(provisionedCA.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ConfigurationError("cannot write \(file.path)")
            }
            return SIPTLS(client: try TLSContexts.client(caFile: file.path))
        }
        return SIPTLS(client: try TLSContexts.client(caFile: nil))
    }

    /// Probes the call servers every second for as long as the phone is logged in.
    private func startProbing() {
        probing?.cancel()
        probing = Task { [weak self] in
            while (try? await Task.sleep(for: .seconds(1))) != nil {
                guard let self else { return }
                await self.probe()
            }
        }
    }

    /// The host of our Request-URIs: the SIP domain, which reaches the call server directly; through
    /// a border proxy (which relays by Request-URI), the primary call server's address.
    private func requestHost(_ sip: SIPAccount) -> String {
        guard sip.borderProxy != nil else { return sip.domain }
        return sip.primary.port == 5060 ? sip.primary.host : "\(sip.primary.host):\(sip.primary.port)"
    }

    private func target(_ server: CallServerFailover.Server) -> SIPTarget? {
        guard let sip else { return nil }
        let address = sip.borderProxy ?? (server == .primary ? sip.primary : sip.secondary ?? sip.primary)
        return SIPTarget(kind: SIPTransportKind(viaTransport: address.transport) ?? .udp, host: address.host, port: address.port)
    }

    /// Registers with `server` (the old registration is dropped, not un-registered: its server is
    /// gone or will learn when the binding expires). New calls go there; calls in progress keep
    /// their own route.
    private func register(on server: CallServerFailover.Server) async {
        guard let stack, let sip, let target = target(server) else { return }
        await registration?.abandon()
        registrationGeneration += 1
        let generation = registrationGeneration
        do {
            var contactURI = SIPURI(user: sip.username, host: self.configuration.sipHost, port: localPort)
            // Over TCP or TLS the call server sends to this phone on the registration's connection.
            if let parameter = target.kind.uriParameter { contactURI.parameters.set("transport", raw: parameter) }
            var contact = NameAddress(uri: contactURI)
            contact.parameters.set("+sip.instance", raw: "\"<urn:uuid:\(instanceID)>\"")
            if sip.borderProxy != nil {
                // RFC 5626 §4.2: a flow through the border proxy (which keeps it open with our keep-alives).
                contact.parameters.set("reg-id", raw: "1")
            }
            var configuration = RegistrationClient.Configuration(
                registrar: try SIPURI("sip:\(requestHost(sip))"), addressOfRecord: try SIPURI("sip:\(sip.username)@\(sip.domain)"),
                contact: contact,
                callID: "reg-\(UUID().uuidString)@\(self.configuration.sipHost)", fromTag: String(UUID().uuidString.prefix(8)))
            configuration.requestedExpiry = 300
            let registration = Registration(stack: stack, target: target, configuration: configuration,
                                            authenticator: DigestAuthenticator(username: sip.username, password: sip.password))
            self.registration = registration
            if let ua { await calls.attach(ua, domain: requestHost(sip), target: target) }
            let updates = registration.updates
            Task { [weak self] in
                for await status in updates { await self?.registrationChanged(status, generation: generation) }
            }
            logger.notice("registering", metadata: ["server": "\(server.rawValue)", "target": "\(target.host):\(target.port)"])
            await registration.start()
        } catch {
            logger.error("registration not started", metadata: ["error": "\(error)"])
        }
    }

    /// OPTIONS to the current call server (and the primary while on the secondary); an answer
    /// within a second counts.
    private func probe() async {
        guard let ua, let sip else { return }
        for action in failover.tick() {
            guard case .probe(let server) = action, let target = target(server), let uri = try? SIPURI("sip:\(requestHost(sip))") else { continue }
            let answered = await withTaskGroup(of: Bool.self) { group in
                group.addTask { (try? await ua.request(.options, to: uri, via: target)) != nil }
                group.addTask { (try? await Task.sleep(for: .seconds(1))) == nil ? false : false }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            await perform(failover.probed(server, answered: answered))
        }
    }

    private func perform(_ actions: [CallServerFailover.Action]) async {
        for case .switchTo(let server) in actions {
            logger.notice("moving to the \(server.rawValue) call server")
            await register(on: server)
            await publish()
        }
    }

    private func registrationChanged(_ status: Registration.Status, generation: Int) async {
        guard generation == registrationGeneration else { return }
        if case .failed(let reason) = status {
            // Said where an operator looks: a refused certificate or an unreachable server is named here.
            logger.warning("registration failed", metadata: ["reason": "\(reason)"])
        } else {
            logger.info("registration", metadata: ["status": "\(status)"])
        }
        registrationStatus = status
        if case .failed = status { await perform(failover.registrationFailed()) }
        // Registered: the mailbox is watched on this call server (message waiting, RFC 3842).
        if case .registered = status, let sip { await calls.watchMailbox(user: sip.username) }
        await publish()
    }

    var registered: Bool { if case .registered = registrationStatus { true } else { false } }

    // MARK: - Capabilities

    var context: CapabilityTable.Context { CapabilityTable.Context(server: mode, registered: registered) }

    /// Refuses with the capability and the reason when the table does not allow it now.
    func require(_ id: CapabilityID) throws(CapabilityRefusal) {
        if case .unavailable(let reason) = CapabilityTable.availability(of: CapabilityTable.row(id), in: context) {
            throw CapabilityRefusal(capability: id.rawValue, reason: reason)
        }
    }

    // MARK: - State

    /// The room a call is in: the call server names a meet-me participant by its call, and the
    /// parties of an ad-hoc conference by their call and side (`{call};caller`).
    func conference(of call: CallSnapshot) -> ConferenceRoomStatus? {
        conferences.values.first { room in
            room.participants.contains { $0.id == call.serverCall || $0.id.hasPrefix(call.serverCall + ";") }
        } ?? conferences[call.remote.number]
    }

    public func state() async -> JSONValue {
        var callList: [JSONValue] = []
        for call in await calls.snapshots() {
            var object = (try? JSONValue(encoding: call))?.objectValue ?? [:]
            var capabilities: [String: JSONValue] = [:]
            for (id, availability) in CapabilityTable.forCall(call.state, context) { capabilities[id.rawValue] = .bool(availability.isAvailable) }
            object["capabilities"] = .object(capabilities)
            // An ACD call shows the agent, the path, the call's status and the agent's; offline greyed.
            if var acd = object["acd"]?.objectValue {
                acd["callStatus"] = .string(call.state.rawValue)
                acd["acdStatus"] = .optional(cached.acd?.agent == call.acd?.agent ? cached.acd?.status : nil)
                acd["stale"] = .bool(mode == .offline)
                object["acd"] = .object(acd)
            }
            // A call in a conference room lists who is in it (online; offline as last known, stale).
            if let room = conference(of: call) {
                object["conference"] = ["room": .string(room.number), "name": .string(room.name),
                                        "participants": .array(room.participants.map { participant in
                                            ["number": .string(participant.number), "name": .optional(participant.name),
                                             "talking": .bool(participant.talking), "muted": .bool(participant.muted)]
                                        }),
                                        "stale": .bool(mode == .offline)]
            }
            // The call notification window: offline it is always shown, whatever the setting, so a
            // call can always be answered (SYSTEM.md, limited mode §5).
            if call.state == .ringing {
                object["notification"] = ["shown": .bool(settings.showCallPopup || mode == .offline),
                                          "reason": .string(mode == .offline ? "offline" : "setting")]
            }
            callList.append(.object(object))
        }
        var current = staticState
        current["calls"] = .array(callList)
        current["console"] = consoleJSON(await calls.snapshots())
        current["session"] = ["loggedIn": .bool(await link.loggedIn)]
        current["notices"] = .array(notices.map(JSONValue.string))
        current["recordings"] = (try? JSONValue(encoding: await recordings.counts)) ?? .null
        current["voicemail"] = (await calls.messageWaiting).flatMap { try? JSONValue(encoding: $0) } ?? .null
        return .object(current)
    }

    var staticState: [String: JSONValue] {
        var capabilities: [String: JSONValue] = [:]
        var unavailable: [String: JSONValue] = [:]
        for (id, availability) in CapabilityTable.global(context) {
            capabilities[id.rawValue] = .bool(availability.isAvailable)
            if case .unavailable(let reason) = availability { unavailable[id.rawValue] = .string(reason.rawValue) }
        }
        let registration: JSONValue = switch registrationStatus {
        case .registered: ["state": "registered", "server": .string(failover.current.rawValue)]
        case .failed(let why): ["state": "unregistered", "server": .null, "error": .string(why)]
        default: ["state": "unregistered", "server": .null]
        }
        let provisioning = cached.provisioning
        return [
            "user": .string(configuration.user),
            "name": .optional(provisioning?.name),
            "server": ["mode": .string(mode.rawValue), "since": .string(Self.iso(modeSince))],
            "banner": mode == .offline ? .string(Self.banner) : .null,
            "registration": registration,
            "sipRefused": .int(Int64(sipRefused.count)),
            "capabilities": .object(capabilities),
            "unavailable": .object(unavailable),
            "calls": .array([]),
            "sendingCallsTo": ["device": .optional(provisioning?.settings?.selectedDevice), "readOnly": .bool(mode == .offline)],
            "settings": ["readOnly": .bool(mode == .offline), "autoAnswer": .bool(settings.autoAnswer),
                         "callOnDoubleClick": .bool(settings.callOnDoubleClick),
                         "showCallPopup": .bool(settings.showCallPopup), "recordingPolicy": .string(settings.recordingPolicy.rawValue)],
            "presence": presenceJSON,
            "acd": acdJSON,
            "hotdesk": hotDeskJSON,
        ]
    }

    /// This phone as a desktop console: on duty or not, its queue (the attendant's calls ringing
    /// it, oldest first, with why each came and how long it waits) and the office's lamps (as last
    /// read: offline stale). Null when the phone was never a console.
    func consoleJSON(_ snapshots: [CallSnapshot]) -> JSONValue {
        guard let console = cached.console else { return .null }
        let now = Date()
        let queue = snapshots.filter { $0.state == .ringing && $0.console != nil }.sorted { ($0.console?.since ?? now) < ($1.console?.since ?? now) }
        return .object([
            "active": .bool(console.active), "attendant": .optional(console.attendant), "stale": .bool(mode == .offline),
            "queue": .array(queue.map { call in
                ["call": .string(call.id), "caller": .string(call.remote.number), "callerName": .optional(call.remote.name),
                 "waitingSeconds": .int(Int64(max(0, now.timeIntervalSince(call.console?.since ?? now)).rounded())),
                 "reason": .string(call.console?.reason ?? "direct")]
            }),
            "lamps": (try? JSONValue(encoding: cached.lamps ?? [])) ?? .array([]),
            "lampsUpdatedAt": .optional(cached.lampsUpdatedAt.map(Self.iso)),
        ])
    }

    /// The server's reply to a console change, kept; returns the phone's view.
    func consoleReply(_ reply: JSONValue) async throws -> JSONValue {
        let info = try reply.decode(ConsoleInfo.self)
        await link.setConsole(info)
        cached.console = info
        if info.active { await link.refreshLamps() }
        return consoleJSON(await calls.snapshots())
    }

    /// Answers the attendant's call `id` (or the one waiting longest) at this console; works
    /// offline, as any ringing call does. Another console may have taken it a moment before.
    func consoleAnswer(_ id: String?) async throws -> JSONValue {
        let waiting = await calls.snapshots().filter { $0.state == .ringing && $0.console != nil }
        let chosen: CallSnapshot
        if let id {
            guard let call = waiting.first(where: { $0.id == id }) else {
                throw APIError(.conflict, "call_state", "call \(id) is not waiting at this console (another console took it, or it ended)", details: ["field": "call"])
            }
            chosen = call
        } else {
            guard let oldest = waiting.min(by: { ($0.console?.since ?? Date()) < ($1.console?.since ?? Date()) }) else {
                throw APIError(.conflict, "nothing_waiting", "no call waits at this console")
            }
            chosen = oldest
        }
        do { try await calls.answer(chosen.id) } catch {
            throw APIError(.conflict, "call_state", "call \(chosen.id) could not be answered here: \(error)", details: ["field": "call"])
        }
        return ["call": .string(chosen.id), "answered": true]
    }

    /// The hot-desk user logged in at this phone (null: none): `{"user", "name", "loggedIn",
    /// "stale"}`; offline stale, and it stays (logging out needs the server).
    var hotDeskJSON: JSONValue {
        guard let info = cached.hotDesk else { return .null }
        return .object([
            "user": .string(info.user), "name": .string(info.name), "loggedIn": .bool(info.loggedIn),
            "since": .optional(info.since.map(Self.iso)), "stale": .bool(mode == .offline),
            "updatedAt": .optional(cached.hotDeskUpdatedAt.map(Self.iso)),
        ])
    }

    /// The server's reply to a hot-desk login or logout, kept; returns the phone's view.
    func hotDeskReply(_ reply: JSONValue) async throws -> JSONValue {
        let info = try reply.decode(HotDeskInfo.self)
        await link.setHotDesk(info)
        cached.hotDesk = info.loggedIn ? info : nil
        cached.hotDeskUpdatedAt = Date()
        return hotDeskJSON == .null ? .object(["user": .string(info.user), "name": .string(info.name), "loggedIn": false, "stale": false]) : hotDeskJSON
    }

    /// The ACD agent as last known (null when this user is no agent); offline greyed: stale, with
    /// when it was last updated, and not updated until the server is back.
    var acdJSON: JSONValue {
        guard let acd = cached.acd else { return .null }
        return .object([
            "agent": .string(acd.agent),
            "loggedIn": .bool(acd.loggedIn),
            "status": .string(acd.status),
            "reason": .optional(acd.reason),
            "paths": (try? JSONValue(encoding: acd.paths)) ?? .array([]),
            "reasons": .array(acd.reasons.map(JSONValue.string)),
            "wrapUpEndsAt": .optional(acd.wrapUpEndsAt.map(Self.iso)),
            "stale": .bool(mode == .offline),
            "updatedAt": .optional(cached.acdUpdatedAt.map(Self.iso)),
        ])
    }

    /// The server's reply to an ACD request, kept as the agent's status; returns the phone's view.
    func acdReply(_ reply: JSONValue) async throws -> JSONValue {
        let status = try reply.decode(AgentInfo.self)
        await link.setACD(status)
        cached.acd = status
        cached.acdUpdatedAt = Date()
        return acdJSON
    }

    /// Presence as last known; offline it is marked stale with when it was last updated.
    var presenceJSON: JSONValue {
        .object([
            "stale": .bool(mode == .offline),
            "updatedAt": .optional(cached.presenceUpdatedAt.map(Self.iso)),
            "users": (try? JSONValue(encoding: cached.provisioning?.presence ?? [])) ?? .array([]),
        ])
    }

    var cache: CachedSession { cached }

    /// A stream of the whole state, sent at once and after every change.
    func subscribe() async -> AsyncStream<JSONValue> {
        let (stream, continuation) = AsyncStream<JSONValue>.makeStream(bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        subscribers[id] = continuation
        continuation.yield(await state())
        continuation.onTermination = { [weak self] _ in Task { await self?.unsubscribe(id) } }
        return stream
    }

    private func unsubscribe(_ id: UUID) { subscribers[id] = nil }

    private func publish() async {
        guard !subscribers.isEmpty else { return }
        let current = await state()
        for continuation in subscribers.values { continuation.yield(current) }
    }

    /// Refuses with the capability and the reason unless the table allows it for this call now.
    func require(_ id: CapabilityID, call: String) async throws -> PhoneCallState {
        guard let state = await calls.state(of: call) else {
            throw CallFailure.unknownCall(call)
        }
        if case .unavailable(let reason) = CapabilityTable.availability(of: CapabilityTable.row(id), in: context, call: state) {
            throw CapabilityRefusal(capability: id.rawValue, reason: reason)
        }
        return state
    }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}

/// A request for a capability the table does not allow now.
public struct CapabilityRefusal: Error, Sendable, Equatable {
    public var capability: String
    public var reason: CapabilityReason
}

/// Lets the link call back into the core it belongs to without a reference cycle.
final class WeakCore: @unchecked Sendable {
    // @unchecked: written once in PhoneCore.init before the link can call back, read-only afterwards.
    weak var core: PhoneCore?
}
