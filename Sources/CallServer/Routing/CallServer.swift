// The call server: registrar and B2BUA. Each call is two dialogs (caller ⇄ server ⇄ callee)
// with the SDP relayed untouched, so media flows directly between the phones.

import Wire
import Foundation
import Logging
import MediaServices
import NIOCore
import NIOPosix
import SIP
import TLSFiles
import SIPAuth
import SIPCore
import SIPMessage
import Voicemail

public actor CallServer {
    public let configuration: PBXConfiguration
    public nonisolated let stack: SIPStack
    /// The stack's executor (its transport's event loop): a call to the stack is a plain call, not
    /// a hop to another thread, and a response is written on the thread that read the request.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { stack.unownedExecutor }
    public nonisolated let store: FeatureStore
    /// Call and device events for CTI consumers.
    public nonisolated let events: EventLog
    let logger = Logger(label: "holdfast.pbx")
    var registrar: Registrar
    var digest: DigestServer
    var calls: [String: Call] = [:]
    /// Both dialogs of every answered call, to the call's key and the side the dialog faces.
    var dialogs: [DialogID: (call: String, side: Call.Side)] = [:]
    /// Callback requests waiting for their target to be free.
    var callbacks: [String: Callback] = [:]
    /// Blind transfers by REFER relayed lately, whose calls come back to the transferrer unanswered.
    var referrals: [Referral] = []
    let now: @Sendable () -> Double
    /// Digest failures per source and the bans they bring (Security/SIPGuard.swift).
    let sourceGuard: SourceGuard
    /// Digests that failed, and bans, since start (for /metrics and tests).
    public private(set) var authFailures = 0
    public private(set) var bans = 0
    /// Where calls for media services go: the host inside this process, or a `holdfast media` host.
    let mediaTarget: SIPTarget
    /// The media services of this process (nil when they run on another host).
    let mediaHost: MediaServiceHost?
    /// Our Contact on each transport (see `serverContactAddress`).
    var contacts: [SIPTransportKind: NameAddress] = [:]
    /// The contact center's agents and queues (ACD/ContactCenter.swift), and its timers.
    var contactCenter: ContactCenter
    /// Who is logged in at which phone as a hot-desk user (HotDesking.swift).
    var hotDesking: HotDesking
    /// Park slots and what waits in them (ParkLot.swift).
    var parkLot: ParkLot
    /// Users whose phone is a desktop console on duty (durable), and since when.
    var consoles: [String: Double] = [:]
    var acdTimers: [ACDTimer: Scheduled<Void>] = [:]
    /// The ringing of each ACD call's offered agent, and agents' answers waiting for the contact
    /// center's word (by "call|agent").
    var acdOffers: [String: Task<Void, Never>] = [:]
    var acdAnswers: [String: Reached] = [:]
    /// The mailboxes (nil when voicemail is off), the key voicemail requests are signed with (nil:
    /// the media services run elsewhere, without them), and message-waiting subscriptions.
    public nonisolated let mailboxes: MailboxStore?
    let voicemailKey: [UInt8]?
    var subscriptions: [DialogID: MWISubscription] = [:]
    /// Busy-lamp subscriptions (RFC 4235), by dialog.
    var dialogSubscriptions: [DialogID: DialogSubscription] = [:]
    /// Legs with the conference service, by their dialog: whose side of which call each carries
    /// (the media services may end one with a BYE).
    var serviceLegs: [DialogID: (call: String, side: Call.Side)] = [:]

    /// Starts listening on the configured UDP and TCP port (0 picks a free one).
    public static func start(
        configuration: PBXConfiguration, dataDirectory: URL, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        transportConfiguration: SIPTransport.Configuration = SIPTransport.Configuration()
    ) async throws -> CallServer {
        let store = try FeatureStore(directory: dataDirectory)
        var transportConfiguration = transportConfiguration
        let security = configuration.security
        transportConfiguration.maxConnections = security.maxConnections
        transportConfiguration.maxConnectionsPerSource = security.maxConnectionsPerSource
        transportConfiguration.untrustedIdleTimeout = .milliseconds(Int64(security.unauthenticatedIdleSeconds * 1000))
        let tlsFiles = try configuration.listen.tls.map { try tlsFileSet($0, listenHost: configuration.listen.host, dataDirectory: dataDirectory) }
        if let tlsFiles {
            transportConfiguration.tls = SIPTLS(server: try TLSContexts.server(certificateFile: tlsFiles.certificateFile.path, keyFile: tlsFiles.keyFile.path),
                                                client: try TLSContexts.client(caFile: tlsFiles.caFile.path))
        }
        let transport = SIPTransport(group: group, configuration: transportConfiguration)
        try await transport.listenUDPAndTCP(host: configuration.listen.host, port: configuration.listen.port)
        if let tls = configuration.listen.tls {
            try await transport.listen(.tls, host: configuration.listen.host, port: tls.port)
        }
        var stackConfiguration = SIPStack.Configuration()
        stackConfiguration.userAgent = "Holdfast PBX"
        let mailboxes = configuration.voicemail.enabled ? try MailboxStore(directory: dataDirectory, minimumSeconds: configuration.voicemail.minSeconds) : nil
        let key = VoicemailContext.newKey()
        let events = EventLog()
        let voicemail = mailboxes.map { store in
            VoicemailContext(store: store, settings: configuration.voicemail,
                             pins: Dictionary(configuration.users.compactMap { user in user.voicemailPIN.map { (user.extensionNumber, $0) } }, uniquingKeysWith: { a, _ in a }),
                             key: key, securityEvent: { mailbox, caller, lockedFor in
                                 // `seconds`: how long the mailbox now takes no PIN (0: the call ended, nothing locked).
                                 events.append(.securityBanned(address: caller, reason: "voicemail PIN failures for mailbox \(mailbox)", seconds: lockedFor))
                             })
        }
        let (mediaTarget, mediaHost) = try await startMedia(configuration, voicemail: voicemail, group: group) { change in
            switch change {
            case .joined(let room, let participant): events.append(.conferenceJoined(room: room, participant: participant))
            case .left(let room, let participant): events.append(.conferenceLeft(room: room, participant: participant))
            case .talking(let room, let participant, let talking): events.append(.conferenceTalking(room: room, participant: participant, talking: talking))
            }
        }
        let server = CallServer(configuration: configuration, stack: SIPStack(transport: transport, configuration: stackConfiguration), store: store, tls: tlsFiles,
                                mediaTarget: mediaTarget, mediaHost: mediaHost, events: events, mailboxes: mailboxes,
                                voicemailKey: mediaHost != nil && mailboxes != nil ? key : nil)
        mailboxes?.onChange { [weak server] mailbox in
            guard let server else { return }
            Task { await server.mailboxChanged(mailbox) }
        }
        await server.learnContacts()
        await server.restoreRegistrations()
        await server.restoreAgents()
        await server.restoreHotDesks()
        await server.followDialogState()
        await server.restoreConsoles()
        await server.run()
        return server
    }

    /// The media services inside this process on a free port of the SIP host, unless the
    /// configuration names a `holdfast media` host.
    static func startMedia(_ configuration: PBXConfiguration, voicemail: VoicemailContext?, group: any EventLoopGroup,
                           conferenceEvent: @escaping @Sendable (ConferenceRoom.ConferenceEvent) -> Void) async throws -> (SIPTarget, MediaServiceHost?) {
        if let remote = configuration.media.remote, let colon = remote.lastIndex(of: ":"), let port = Int(remote[remote.index(after: colon)...]) {
            return (SIPTarget(kind: .udp, host: String(remote[..<colon]), port: port), nil)
        }
        var media = MediaHostConfiguration()
        media.host = configuration.listen.host
        media.musicOnHold = configuration.media.musicOnHold
        media.conferences = configuration.conferences
        if let timeout = configuration.media.rtpTimeoutSeconds { media.rtpTimeoutSeconds = timeout }
        let host = try await MediaServiceHost.start(media, voicemail: voicemail, conferenceEvent: conferenceEvent, group: group)
        return (SIPTarget(kind: .udp, host: media.host, port: await host.port), host)
    }

    /// The certificate files SIP over TLS is served with: the configured ones, or the private
    /// CA's in `tls/` of the data directory, made at first start.
    static func tlsFileSet(_ tls: PBXConfiguration.Listen.TLS, listenHost: String, dataDirectory: URL) throws -> TLSFileSet {
        if let certificate = tls.certificate, let key = tls.key {
            // A configured chain: its last certificate is taken as the CA peers trust.
            return TLSFileSet(caFile: URL(fileURLWithPath: certificate), certificateFile: URL(fileURLWithPath: certificate), keyFile: URL(fileURLWithPath: key))
        }
        return try PrivateCA.ensure(in: dataDirectory.appendingPathComponent("tls"), names: [listenHost])
    }

    init(configuration: PBXConfiguration, stack: SIPStack, store: FeatureStore, tls: TLSFileSet? = nil, mediaTarget: SIPTarget, mediaHost: MediaServiceHost?,
         events: EventLog = EventLog(), mailboxes: MailboxStore? = nil, voicemailKey: [UInt8]? = nil,
         now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.configuration = configuration
        self.tls = tls
        self.events = events
        self.mailboxes = mailboxes
        self.voicemailKey = voicemailKey
        self.mediaTarget = mediaTarget
        self.mediaHost = mediaHost
        self.stack = stack
        self.store = store
        self.now = now
        let security = configuration.security
        sourceGuard = SourceGuard(.init(authFailures: security.authFailures, windowSeconds: security.authWindowSeconds, banSeconds: security.banSeconds),
                                  now: now)
        registrar = Registrar(minExpires: configuration.minExpires, maxExpires: configuration.maxExpires,
                              maxContacts: configuration.security.maxRegistrationsPerUser)
        contactCenter = ContactCenter(configuration.acd)
        parkLot = ParkLot(slots: configuration.park?.slots ?? [])
        hotDesking = HotDesking(pins: Dictionary(configuration.users.compactMap { user in user.hotDeskPIN.map { (user.extensionNumber, $0) } },
                                                 uniquingKeysWith: { first, _ in first }))
        var secret = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in secret.indices { secret[i] = UInt8.random(in: 0...255, using: &generator) }
        let algorithms = configuration.digestAlgorithms.compactMap { DigestAlgorithm(token: $0) }
        digest = DigestServer(secret: secret, nonceLifetime: configuration.nonceLifetime, algorithms: algorithms)
    }

    /// The SIP port actually bound (useful when the configuration asked for 0).
    public nonisolated var sipPort: Int { stack.transport.localAddress(.udp)?.port ?? 0 }
    /// The SIP-over-TLS port bound (nil: no TLS listener).
    public nonisolated var tlsPort: Int? { stack.transport.localAddress(.tls)?.port }
    /// The certificate, key and CA files TLS is served with (nil: no TLS).
    public nonisolated let tls: TLSFileSet?

    public func shutdown() async {
        for call in calls.values {
            call.ringing?.timer?.cancel()
            for timer in call.ackTimers.values { timer.cancel() }
        }
        for timer in acdTimers.values { timer.cancel() }
        await stack.shutdown()
        await mediaHost?.shutdown()
        await store.durable()
    }

    /// Phones registered before a restart (or crash) stay reachable.
    func restoreRegistrations() {
        do { registrar.restore(try store.loadBindings(now: now())) } catch {
            logger.error("stored registrations could not be read", metadata: ["error": "\(error)"])
        }
    }

    /// Each request is handled in its own task, started on this actor; the stack hands it over
    /// on the executor both share.
    private func run() async {
        // A banned source's requests are dropped before they cost a transaction.
        let sourceGuard = self.sourceGuard
        await stack.setAdmission { sourceGuard.admission($0) }
        await stack.setRequestHandler { [weak self] incoming in
            _ = self?.assumeIsolated { server in
                Task { await server.handle(incoming) }
            }
        }
        await stack.start()
    }

    // MARK: - Dispatch

    func handle(_ incoming: IncomingRequest) async {
        let request = incoming.request
        // Banned while it waited here: no answer at all.
        if sourceGuard.admission(incoming.origin.source) == .drop {
            await stack.drop(incoming)
            return
        }
        if let invite = incoming.cancelledInvite {
            await callerCancelled(invite)
            return
        }
        if request.to?.tag != nil, let id = DialogID.forIncoming(request) {
            if request.method == .subscribe {
                await refreshSubscription(incoming, id: id)
                return
            }
            await handleInDialog(incoming, id: id)
            return
        }
        // A method we do not implement is refused as such before its body is looked at (a PUBLISH
        // with a body is 405, not 415).
        guard Self.allowedMethods.contains(request.method) else {
            var refused = SIPResponse(replyingTo: request, statusCode: 405, toTag: Self.newTag())
            refused.headers.add(.allow, Self.allow)
            try? await stack.respond(refused, to: incoming)
            return
        }
        if request.method != .ack, let rejection = request.uasRejection(serverCapabilities, toTag: Self.newTag()) {
            try? await stack.respond(rejection, to: incoming)
            return
        }
        switch request.method {
        case .register: await handleRegister(incoming)
        case .options: await respondOptions(incoming)
        case .invite: await handleInvite(incoming)
        case .subscribe: await handleSubscribe(incoming)
        case .ack: break
        case .refer:
            // RFC 3515 allows a REFER outside a dialog; this server takes transfers only inside a call.
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "REFER is accepted only inside a call", toTag: Self.newTag()), to: incoming)
        default:
            // BYE, INFO, UPDATE, NOTIFY, PRACK with no dialog (§12.2.2).
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481, toTag: Self.newTag()), to: incoming)
        }
    }

    static let allowedMethods: Set<SIPMethod> = [.invite, .ack, .cancel, .bye, .options, .register, .info, .update, .refer, .notify, .prack, .subscribe]
    static let allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER, NOTIFY, SUBSCRIBE"
    static let supported = "path, outbound, replaces"
    var serverCapabilities: UASCapabilities {
        UASCapabilities(allowedMethods: [], supportedExtensions: ["path", "outbound", "replaces"],
                        acceptedContentTypes: ["application/sdp", "application/dtmf-relay", "message/sipfrag", "multipart/mixed", "text/plain"])
    }

    private func respondOptions(_ incoming: IncomingRequest) async {
        var ok = SIPResponse(replyingTo: incoming.request, statusCode: 200, toTag: Self.newTag())
        ok.headers.add(.allow, Self.allow)
        ok.headers.add(.accept, "application/sdp")
        ok.headers.add(.supported, Self.supported)
        try? await stack.respond(ok, to: incoming)
    }

    /// RFC 3261 §16.3 step 3 and RFC 7332 §3 (a B2BUA relays the hop count): a request that may go
    /// no further is refused with 483; otherwise the value its relayed copy carries.
    func forwardedHops(_ incoming: IncomingRequest) async -> Int? {
        let remaining = incoming.request.maxForwards ?? 70
        guard remaining > 0 else {
            try? await stack.respond(SIPResponse(replyingTo: incoming.request, statusCode: 483, reasonPhrase: "Too Many Hops",
                                                 toTag: incoming.request.to?.tag == nil ? Self.newTag() : nil), to: incoming)
            return nil
        }
        return min(remaining - 1, 70)
    }

    // MARK: - Registrar

    private func handleRegister(_ incoming: IncomingRequest) async {
        let request = incoming.request
        // An unknown user is challenged as a known one is (and never authenticates): the answer
        // does not tell which extensions exist.
        guard case .sip(let aorURI)? = request.to?.uri, let user = aorURI.user else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 400, reasonPhrase: "To must be a sip: URI with a user", toTag: Self.newTag()), to: incoming)
            return
        }
        guard isOurDomain(aorURI.host) else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "Not responsible for \(aorURI.host)", toTag: Self.newTag()), to: incoming)
            return
        }
        guard await authenticate(incoming, as: user, header: .authorization, challenge: 401) else { return }
        let source = "\(incoming.origin.source.ipAddress ?? "127.0.0.1"):\(incoming.origin.source.port ?? 5060)"
        let previous = registrar.bindings[user]
        switch registrar.register(request, aor: user, source: source, transport: incoming.origin.kind.rawValue, now: now()) {
        case .ok(let bindings):
            // Stored before the 200: a call server killed right after still knows the phone.
            guard await store.saveBindings(user, bindings) else {
                // Not stored: a 200 would promise a registration a restart forgets, so the
                // registrar forgets it too.
                registrar.reset(user, to: previous)
                try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 500, reasonPhrase: "The registration could not be stored",
                                                     toTag: Self.newTag()), to: incoming)
                return
            }
            var ok = SIPResponse(replyingTo: request, statusCode: 200, toTag: Self.newTag())
            for contact in Registrar.contactHeader(bindings, now: now()) { ok.headers.add(.contact, contact) }
            if request.headers.contains(.path) {
                for path in request.headers.values(.path) { ok.headers.add(.path, path) }
                ok.headers.add(.supported, "path")
            }
            if bindings.contains(where: { $0.regID != nil }) { ok.headers.add(.require, "outbound") }
            logger.info("registered", metadata: ["user": "\(user)", "contacts": "\(bindings.count)", "transport": "\(incoming.origin.kind.rawValue)"])
            events.append(.devicesChanged(user: user, devices: bindings.map(\.deviceName)))
            if !callbacks.isEmpty { serveCallbacks() }
            try? await stack.respond(ok, to: incoming)
            // A device new to the user hears at once of messages already waiting.
            let known = Set((previous ?? []).map { $0.contact.uri.description })
            await tellWaiting(user, devices: bindings.filter { !known.contains($0.contact.uri.description) })
        case .reject(let status, let reason, let minExpires):
            var response = SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: reason, toTag: Self.newTag())
            if let minExpires { response.headers.add(.minExpires, String(minExpires)) }
            try? await stack.respond(response, to: incoming)
        }
    }

    /// Digest check (RFC 7616): answers the challenge itself and returns false when not authenticated.
    func authenticate(_ incoming: IncomingRequest, as user: String, header: HeaderName, challenge status: Int) async -> Bool {
        let request = incoming.request
        let realm = configuration.domain
        var stale = false
        if let value = request.headers[header] {
            var failed = true
            if let credentials = try? DigestCredentials(parsing: value), credentials.username == user, let password = configuration.user(user)?.password, !password.isEmpty {
                switch digest.verify(credentials, method: request.method.rawValue, realm: realm, password: password, now: now()) {
                case .valid:
                    // A connection that authenticated may stay open and idle as long as a phone keeps it.
                    if let connection = incoming.origin.connection { stack.transport.markTrusted(connection) }
                    return true
                case .stale: stale = true; failed = false
                case .replay, .invalid: break
                }
            }
            if failed { authFailed(incoming, user: user) }
        }
        var response = SIPResponse(replyingTo: request, statusCode: status, toTag: Self.newTag())
        let challengeHeader: HeaderName = status == 401 ? .wwwAuthenticate : .proxyAuthenticate
        var generator = BufferedSystemRandom()
        let random = withUnsafeBytes(of: (generator.next(), generator.next())) { Array($0.prefix(12)) }
        for c in digest.challenges(realm: realm, stale: stale, now: now(), random: random) {
            response.headers.add(challengeHeader, c.headerValue)
        }
        // Sent once (and again per retransmitted request): a challenge reflects no more than it gets.
        try? await stack.respond(response, to: incoming, retransmit: false)
        return false
    }

    /// A digest that failed: counted against its source, which is banned past the threshold.
    func authFailed(_ incoming: IncomingRequest, user: String) {
        let address = incoming.origin.source.ipAddress ?? "?"
        authFailures += 1
        guard case .banned(let until) = sourceGuard.authFailed(address) else { return }
        let seconds = Int((until - now()).rounded())
        // One line per ban, in a form fail2ban can match: `SIP source banned … address=A`.
        logger.warning("SIP source banned for failed digests", metadata: ["address": "\(address)", "user": "\(user)", "seconds": "\(seconds)",
                                                                        "failures": "\(configuration.security.authFailures)"])
        bans += 1
        events.append(.securityBanned(address: address, reason: "digest failures", seconds: seconds))
    }

    func isOurDomain(_ host: String) -> Bool {
        let lower = host.lowercased()
        return lower == configuration.domain.lowercased() || lower == configuration.listen.host.lowercased()
    }

    static func newTag() -> String { String(BranchGenerator.make().dropFirst(7)) }

    // MARK: - Introspection for tests and CTI

    public func bindings(for user: String) -> [Binding] { registrar.lookup(user, now: now()) }
    public var activeCallCount: Int { calls.count }
}
