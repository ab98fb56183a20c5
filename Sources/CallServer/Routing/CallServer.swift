// The call server: registrar and B2BUA. Each call is two dialogs (caller ⇄ server ⇄ callee)
// with the SDP relayed untouched, so media flows directly between the phones.

import Wire
import Foundation
import Logging
import MediaServices
import NIOCore
import NIOPosix
import SIP
import SIPAuth
import SIPCore
import SIPMessage

public actor CallServer {
    public let configuration: PBXConfiguration
    public nonisolated let stack: SIPStack
    /// The stack's executor (its transport's event loop): a call to the stack is a plain call, not
    /// a hop to another thread, and a response is written on the thread that read the request.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { stack.unownedExecutor }
    public nonisolated let store: FeatureStore
    /// Call and device events for CTI consumers.
    public nonisolated let events = EventLog()
    let logger = Logger(label: "holdfast.pbx")
    var registrar: Registrar
    var digest: DigestServer
    var calls: [String: Call] = [:]
    /// Both dialogs of every answered call, to the call's key and the side the dialog faces.
    var dialogs: [DialogID: (call: String, side: Call.Side)] = [:]
    /// Callback requests waiting for their target to be free.
    var callbacks: [String: Callback] = [:]
    let now: @Sendable () -> Double
    /// Where calls for media services go: the host inside this process, or a `holdfast media` host.
    let mediaTarget: SIPTarget
    /// The media services of this process (nil when they run on another host).
    let mediaHost: MediaServiceHost?
    /// Our Contact on each transport (see `serverContactAddress`).
    var contacts: [SIPTransportKind: NameAddress] = [:]
    /// The contact center's agents and queues (ACD/ContactCenter.swift), and its timers.
    var contactCenter: ContactCenter
    var acdTimers: [ACDTimer: Scheduled<Void>] = [:]
    /// The ringing of each ACD call's offered agent, and agents' answers waiting for the contact
    /// center's word (by "call|agent").
    var acdOffers: [String: Task<Void, Never>] = [:]
    var acdAnswers: [String: Reached] = [:]

    /// Starts listening on the configured UDP and TCP port (0 picks a free one).
    public static func start(
        configuration: PBXConfiguration, dataDirectory: URL, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        transportConfiguration: SIPTransport.Configuration = SIPTransport.Configuration()
    ) async throws -> CallServer {
        let store = try FeatureStore(directory: dataDirectory)
        let transport = SIPTransport(group: group, configuration: transportConfiguration)
        try await transport.listenUDPAndTCP(host: configuration.listen.host, port: configuration.listen.port)
        var stackConfiguration = SIPStack.Configuration()
        stackConfiguration.userAgent = "Holdfast PBX"
        let (mediaTarget, mediaHost) = try await startMedia(configuration, group: group)
        let server = CallServer(configuration: configuration, stack: SIPStack(transport: transport, configuration: stackConfiguration), store: store,
                                mediaTarget: mediaTarget, mediaHost: mediaHost)
        await server.learnContacts()
        await server.restoreRegistrations()
        await server.restoreAgents()
        await server.run()
        return server
    }

    /// The media services inside this process on a free port of the SIP host, unless the
    /// configuration names a `holdfast media` host.
    static func startMedia(_ configuration: PBXConfiguration, group: any EventLoopGroup) async throws -> (SIPTarget, MediaServiceHost?) {
        if let remote = configuration.media.remote, let colon = remote.lastIndex(of: ":"), let port = Int(remote[remote.index(after: colon)...]) {
            return (SIPTarget(kind: .udp, host: String(remote[..<colon]), port: port), nil)
        }
        var media = MediaHostConfiguration()
        media.host = configuration.listen.host
        media.musicOnHold = configuration.media.musicOnHold
        let host = try await MediaServiceHost.start(media, group: group)
        return (SIPTarget(kind: .udp, host: media.host, port: await host.port), host)
    }

    init(configuration: PBXConfiguration, stack: SIPStack, store: FeatureStore, mediaTarget: SIPTarget, mediaHost: MediaServiceHost?,
         now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.configuration = configuration
        self.mediaTarget = mediaTarget
        self.mediaHost = mediaHost
        self.stack = stack
        self.store = store
        self.now = now
        registrar = Registrar(minExpires: configuration.minExpires, maxExpires: configuration.maxExpires)
        contactCenter = ContactCenter(configuration.acd)
        var secret = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in secret.indices { secret[i] = UInt8.random(in: 0...255, using: &generator) }
        let algorithms = configuration.digestAlgorithms.compactMap { DigestAlgorithm(token: $0) }
        digest = DigestServer(secret: secret, nonceLifetime: configuration.nonceLifetime, algorithms: algorithms)
    }

    /// The SIP port actually bound (useful when the configuration asked for 0).
    public nonisolated var sipPort: Int { stack.transport.localAddress(.udp)?.port ?? 0 }

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
        if let invite = incoming.cancelledInvite {
            await callerCancelled(invite)
            return
        }
        if request.to?.tag != nil, let id = DialogID.forIncoming(request) {
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
        case .ack: break
        case .refer:
            // RFC 3515 allows a REFER outside a dialog; this server takes transfers only inside a call.
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "REFER is accepted only inside a call", toTag: Self.newTag()), to: incoming)
        default:
            // BYE, INFO, UPDATE, NOTIFY, PRACK with no dialog (§12.2.2).
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 481, toTag: Self.newTag()), to: incoming)
        }
    }

    static let allowedMethods: Set<SIPMethod> = [.invite, .ack, .cancel, .bye, .options, .register, .info, .update, .refer, .notify, .prack]
    static let allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER, NOTIFY"
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
        guard case .sip(let aorURI)? = request.to?.uri, let user = aorURI.user, configuration.user(user) != nil else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 404, reasonPhrase: "No such user", toTag: Self.newTag()), to: incoming)
            return
        }
        guard isOurDomain(aorURI.host) else {
            try? await stack.respond(SIPResponse(replyingTo: request, statusCode: 403, reasonPhrase: "Not responsible for \(aorURI.host)", toTag: Self.newTag()), to: incoming)
            return
        }
        guard await authenticate(incoming, as: user, header: .authorization, challenge: 401) else { return }
        let source = "\(incoming.origin.source.ipAddress ?? "127.0.0.1"):\(incoming.origin.source.port ?? 5060)"
        switch registrar.register(request, aor: user, source: source, transport: incoming.origin.kind.rawValue, now: now()) {
        case .ok(let bindings):
            // Stored before the 200: a call server killed right after still knows the phone.
            await store.saveBindings(user, bindings)
            var ok = SIPResponse(replyingTo: request, statusCode: 200, toTag: Self.newTag())
            for contact in Registrar.contactHeader(bindings, now: now()) { ok.headers.add(.contact, contact) }
            if request.headers.contains(.path) {
                for path in request.headers.values(.path) { ok.headers.add(.path, path) }
                ok.headers.add(.supported, "path")
            }
            if bindings.contains(where: { $0.regID != nil }) { ok.headers.add(.require, "outbound") }
            logger.info("registered", metadata: ["user": "\(user)", "contacts": "\(bindings.count)"])
            events.append(.devicesChanged(user: user, devices: bindings.map(\.deviceName)))
            if !callbacks.isEmpty { serveCallbacks() }
            try? await stack.respond(ok, to: incoming)
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
        if let value = request.headers[header], let credentials = try? DigestCredentials(parsing: value),
           credentials.username == user, let password = configuration.user(user)?.password {
            switch digest.verify(credentials, method: request.method.rawValue, realm: realm, password: password, now: now()) {
            case .valid: return true
            case .stale: stale = true
            case .replay, .invalid: break
            }
        }
        var response = SIPResponse(replyingTo: request, statusCode: status, toTag: Self.newTag())
        let challengeHeader: HeaderName = status == 401 ? .wwwAuthenticate : .proxyAuthenticate
        var generator = BufferedSystemRandom()
        let random = withUnsafeBytes(of: (generator.next(), generator.next())) { Array($0.prefix(12)) }
        for c in digest.challenges(realm: realm, stale: stale, now: now(), random: random) {
            response.headers.add(challengeHeader, c.headerValue)
        }
        try? await stack.respond(response, to: incoming)
        return false
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
