// The transaction runtime: drives the SIPCore transaction state machines with a transport and a
// clock, and hands requests and responses to the transaction user (RFC 3261 §17, §8, §9).

import Logging
import NIOCore
import SIPCore
import SIPMessage

/// A request the stack received, as the transaction user sees it.
public struct IncomingRequest: Sendable {
    public var request: SIPRequest
    /// Where it came from and how, for responses (§18.2.2) and for registrar Contact/flow records.
    public var origin: IncomingMessage
    /// For a CANCEL: the INVITE it cancelled (the stack already answered 200 and 487).
    public var cancelledInvite: SIPRequest?
    let key: TransactionKey?
}

public enum SIPStackError: Error, Sendable, CustomStringConvertible {
    case timeout(SIPMethod)
    case transport(String)
    case noTransaction

    public var description: String {
        switch self {
        case .timeout(let method): return "no final response to \(method) (transaction timed out)"
        case .transport(let why): return "transport error: \(why)"
        case .noTransaction: return "no server transaction for this request (already answered or timed out)"
        }
    }
}

public actor SIPStack {
    public struct Configuration: Sendable {
        public var timers = TransactionTimers()
        /// The host put in Via sent-by and Contact (defaults to the listening address).
        public var advertisedHost: String?
        public var userAgent = "Holdfast"
        public init() {}
    }

    public nonisolated let transport: SIPTransport
    /// The transport's event loop: a received message reaches the stack, and a message sent
    /// reaches its socket, on the same thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { transport.eventLoop.executor.asUnownedSerialExecutor() }
    /// New requests for the transaction user: every request that starts a server transaction,
    /// CANCELs (already answered), and ACKs for 2xx responses (which belong to dialogs).
    public nonisolated let requests: AsyncStream<IncomingRequest>
    /// 2xx responses to INVITEs whose client transaction is gone: the dialog must ACK them again.
    public nonisolated let strayResponses: AsyncStream<SIPResponse>

    let configuration: Configuration
    let clock: any Clock<Duration>
    let logger: Logger
    private let requestContinuation: AsyncStream<IncomingRequest>.Continuation
    private let strayContinuation: AsyncStream<SIPResponse>.Continuation
    private var clients: [TransactionKey: ClientEntry] = [:]
    private var servers: [TransactionKey: ServerEntry] = [:]
    /// Every pending transaction timer, and the one task that sleeps until the earliest of them.
    private var timers = TimerQueue<TimerKey>()
    private var sleeper: Task<Void, Never>?
    private var scheduledWake: Scheduled<Void>?
    private var sleeperDeadline: Duration?
    /// Time since the stack was made, on its clock: timer deadlines are durations since then.
    /// Built once for the clock's concrete type (no cast of the instant at each reading).
    private let elapsedNow: @Sendable () -> Duration
    private var runTask: Task<Void, Never>?
    private var sendChains: [SendDestination: Task<Void, Never>] = [:]

    /// Where sends must keep their order: a request's target, or the source a response goes back to.
    enum SendDestination: Hashable {
        case target(SIPTarget)
        case origin(SIPTransportKind, SocketAddress)
    }

    struct TimerKey: Hashable { var transaction: TransactionKey; var timer: TransactionTimer; var client: Bool }

    struct ClientEntry {
        /// `acceptedInvite`: an INVITE answered 2xx, kept until Timer M only to hand retransmitted
        /// 2xx to the TU; the request is no longer held (thousands of calls a second each leave one
        /// for 32 s).
        enum Machine { case invite(InviteClientTransaction), nonInvite(NonInviteClientTransaction), acceptedInvite }
        var machine: Machine
        var target: SIPTarget
        var continuation: AsyncThrowingStream<SIPResponse, any Error>.Continuation
        /// Why the transport last failed (a refused connection, a certificate not trusted), for the TU.
        var transportFailure: String?
    }

    struct ServerEntry {
        /// Once only its last timer is left: the machine keeps what it may send again, and the
        /// origin only where responses go (the request it carried is let go).
        mutating func linger() {
            if case .lingering = machine { return }
            machine.linger()
            if case .lingering = machine { origin.message = Self.released }
        }

        /// Stands in for the request of a lingering transaction (one shared value, nothing held).
        static let released = SIPMessage.response(SIPResponse(statusCode: 500))

        /// `lingering`: a transaction that has sent its final response and only waits out its last
        /// timer (J, L or I) to absorb retransmissions; it keeps what it may have to send again, not
        /// the request (see `Lingering`).
        enum Machine { case invite(InviteServerTransaction), nonInvite(NonInviteServerTransaction), lingering(Lingering) }
        var machine: Machine
        var origin: IncomingMessage
    }

    /// What is left of a server transaction after its final response (RFC 3261 §17.2, RFC 6026).
    struct Lingering {
        /// Sent again for a retransmitted request: a non-INVITE's final response. Nil for an
        /// INVITE (its 2xx is retransmitted by the TU; after a non-2xx, the ACK has arrived).
        var response: SIPResponse?
        var invite: Bool
        /// An INVITE answered 2xx: ACKs go to the TU (the dialog's).
        var accepted: Bool
    }

    public init(transport: SIPTransport, configuration: Configuration = Configuration(), clock: any Clock<Duration> = ContinuousClock()) {
        self.transport = transport
        self.configuration = configuration
        self.clock = clock
        elapsedNow = Self.elapsedReader(clock)
        self.logger = Logger(label: "holdfast.sip.stack")
        (requests, requestContinuation) = AsyncStream.makeStream(of: IncomingRequest.self)
        (strayResponses, strayContinuation) = AsyncStream.makeStream(of: SIPResponse.self)
    }

    /// Starts consuming the transport's messages: handed over on the event loop they are read on
    /// (the stack's executor), with no stream or task in between.
    public func start() {
        guard runTask == nil else { return }
        let eventLoop = transport.eventLoop
        transport.setReceiver { [weak self] message in
            guard let self else { return }
            if eventLoop.inEventLoop {
                self.assumeIsolated { $0.handle(message) }
            } else {
                Task { await self.handle(message) }
            }
        }
        // What arrived before the receiver was set (between listen and start) waits in `incoming`.
        runTask = Task { await self.consume(transport.incoming) }
    }

    /// Requests go to `handler`, called on the stack's executor, instead of `requests` (for a
    /// transaction user on the same executor: no stream and no task wake-up per request).
    public func setRequestHandler(_ handler: (@Sendable (IncomingRequest) -> Void)?) {
        requestHandler = handler
    }

    private var requestHandler: (@Sendable (IncomingRequest) -> Void)?

    private func deliver(_ request: IncomingRequest) {
        if let requestHandler { requestHandler(request) } else { requestContinuation.yield(request) }
    }

    /// Reads the transport's messages on this actor (one hop per message, not two).
    private func consume(_ incoming: AsyncStream<IncomingMessage>) async {
        for await message in incoming { handle(message) }
    }

    public func shutdown() async {
        transport.setReceiver(nil)
        requestHandler = nil
        runTask?.cancel()
        sleeper?.cancel()
        sleeper = nil
        scheduledWake?.cancel()
        scheduledWake = nil
        timers = TimerQueue()
        for entry in clients.values { entry.continuation.finish(throwing: CancellationError()) }
        clients = [:]
        servers = [:]
        requestContinuation.finish()
        strayContinuation.finish()
        await transport.shutdown()
    }

    // MARK: - Local identity

    /// The sent-by / Contact host and port for a transport.
    public func localHostPort(_ kind: SIPTransportKind) -> (host: String, port: Int)? {
        guard let address = transport.localAddress(kind) else { return nil }
        return (configuration.advertisedHost ?? address.ipAddress ?? "127.0.0.1", address.port ?? 5060)
    }

    /// A fresh top Via for a request sent over `kind`.
    public func makeVia(_ kind: SIPTransportKind) -> Via {
        let local = localHostPort(kind) ?? ("127.0.0.1", 5060)
        return Via(transport: kind.rawValue, host: local.host, port: local.port, branch: BranchGenerator.make())
    }

    // MARK: - Client transactions

    /// The request as `send` will put it on the wire: a top Via with a new branch unless it has
    /// one, and Max-Forwards. Keep this copy of an INVITE to CANCEL it: a CANCEL must carry the
    /// INVITE's branch (RFC 3261 §9.1) or the other side cannot match it and answers 481.
    public func prepared(_ request: SIPRequest, for target: SIPTarget) -> SIPRequest {
        var request = request
        if request.topVia == nil || request.topVia?.branch == nil {
            request.headers.prepend(.via, makeVia(target.kind).description)
        }
        if request.headers[.maxForwards] == nil { request.headers.add(.maxForwards, "70") }
        return request
    }

    /// Sends a request in a new client transaction and streams its responses: provisional ones,
    /// then the final one (and, for INVITE, retransmitted 2xx until Timer M). The request gets a
    /// new top Via unless it already has one whose branch is unused.
    public func send(_ request: SIPRequest, to target: SIPTarget) -> AsyncThrowingStream<SIPResponse, any Error> {
        let request = prepared(request, for: target)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: SIPResponse.self)
        guard let branch = request.topVia?.branch else {
            continuation.finish(throwing: SIPStackError.transport("request has no Via branch"))
            return stream
        }
        let key = TransactionKey.client(branch: branch, method: request.method)
        let reliable = target.kind.isReliable
        var entry: ClientEntry
        var actions: [TransactionAction]
        if request.method == .invite {
            var machine = InviteClientTransaction(invite: request, reliable: reliable, timers: configuration.timers)
            actions = machine.start()
            entry = ClientEntry(machine: .invite(machine), target: target, continuation: continuation)
        } else {
            var machine = NonInviteClientTransaction(request: request, reliable: reliable, timers: configuration.timers)
            actions = machine.start()
            entry = ClientEntry(machine: .nonInvite(machine), target: target, continuation: continuation)
        }
        _ = entry
        clients[key] = entry
        perform(actions, client: key)
        return stream
    }

    /// Sends a request outside any transaction: the ACK for a 2xx (§13.2.2.4), or a stateless forward.
    public func sendStateless(_ request: SIPRequest, to target: SIPTarget) async throws {
        var request = request
        if request.topVia == nil { request.headers.prepend(.via, makeVia(target.kind).description) }
        // Written at once when nothing has to be set up (no await on the write: a stateless send
        // has nothing to do when it fails but log it).
        if let write = transport.sendNow(.request(request), to: target) {
            write.whenFailure { [logger] error in logger.debug("stateless send failed", metadata: ["error": "\(error)"]) }
            return
        }
        try await transport.send(.request(request), to: target)
    }

    /// Sends a CANCEL for an INVITE sent earlier (§9.1), in its own transaction.
    public func cancel(_ invite: SIPRequest, to target: SIPTarget) -> AsyncThrowingStream<SIPResponse, any Error> {
        send(invite.makeCancel(), to: target)
    }

    // MARK: - Server transactions

    /// Answers a request received from `requests`. For an INVITE, a 2xx leaves retransmission of
    /// that 2xx to the caller (the dialog), per RFC 6026.
    /// With `retransmit` false, a final non-2xx to an INVITE is not retransmitted by timer, only
    /// resent for each retransmitted INVITE (refusals and challenges to unauthenticated senders).
    public func respond(_ response: SIPResponse, to incoming: IncomingRequest, retransmit: Bool = true) async throws {
        guard let key = incoming.key, servers[key] != nil else {
            // No transaction (an ACK, or a 2xx retransmitted by the dialog): send directly.
            try await transport.sendResponse(response, replyingTo: incoming.origin)
            return
        }
        let actions = servers[key]!.machine.respond(response, retransmit: retransmit)
        perform(actions, server: key)
        servers[key]?.linger()
    }

    /// Forgets a request's transaction without answering it (a source banned while the request
    /// waited): nothing is sent, and no timer keeps it.
    public func drop(_ incoming: IncomingRequest) {
        guard let key = incoming.key else { return }
        cancelTimers(of: key, client: false)
        servers[key] = nil
    }

    /// Sends a response without a transaction (a retransmitted 2xx for an INVITE, §13.3.1.4).
    public func retransmit(_ response: SIPResponse, to incoming: IncomingRequest) async throws {
        try await transport.sendResponse(response, replyingTo: incoming.origin)
    }

    // MARK: - Incoming messages

    private func handle(_ incoming: IncomingMessage) {
        switch incoming.message {
        case .response(let response):
            handleResponse(response)
        case .request(let request):
            handleRequest(request, incoming)
        }
    }

    private func handleResponse(_ response: SIPResponse) {
        guard let key = TransactionKey.client(for: response), clients[key] != nil else {
            if response.isSuccess, response.cseq?.method == .invite { strayContinuation.yield(response) }
            return
        }
        let actions = clients[key]!.machine.receive(response)
        perform(actions, client: key)
        clients[key]?.machine.linger()
    }

    /// What becomes of a request from a source address before any transaction exists for it.
    public enum Admission: Sendable, Equatable {
        case admit
        /// Dropped unanswered (a banned source: it learns nothing, and costs nothing).
        case drop
        /// Answered once with this status, statelessly (no transaction, no retransmission).
        case refuse(status: Int, reason: String)
    }

    private var admission: (@Sendable (SocketAddress) -> Admission)?

    /// Decides for every request, by its source, whether it reaches a transaction at all.
    public func setAdmission(_ decide: (@Sendable (SocketAddress) -> Admission)?) { admission = decide }

    private func handleRequest(_ request: SIPRequest, _ origin: IncomingMessage) {
        if let admission {
            switch admission(origin.source) {
            case .admit: break
            case .drop: return
            case .refuse(let status, let reason):
                guard request.method != .ack else { return }
                let refusal = SIPResponse(replyingTo: request, statusCode: status, reasonPhrase: reason,
                                          toTag: request.to?.tag == nil ? String(BranchGenerator.make().dropFirst(7)) : nil)
                _ = transport.sendResponseNow(refusal, replyingTo: origin)
                return
            }
        }
        guard let key = TransactionKey.server(for: request)?.scoped(to: origin.kind.rawValue) else { return }
        if servers[key] != nil {
            // A retransmission, or the ACK for a non-2xx final response.
            let acceptedACK = request.method == .ack && servers[key]!.machine.isAcceptedInvite
            let actions = servers[key]!.machine.receive(request)
            perform(actions, server: key)
            servers[key]?.linger()
            if acceptedACK { deliver(IncomingRequest(request: request, origin: origin, key: nil)) }
            return
        }
        switch request.method {
        case .ack:
            // The ACK for a 2xx: end to end, no transaction (§17.2.3); the dialog takes it.
            deliver(IncomingRequest(request: request, origin: origin, key: nil))
        case .cancel:
            handleCancel(request, origin, key: key)
        case .invite:
            var machine = InviteServerTransaction(invite: request, reliable: origin.kind.isReliable, timers: configuration.timers)
            let actions = machine.start()
            servers[key] = ServerEntry(machine: .invite(machine), origin: origin)
            perform(actions, server: key)
            deliver(IncomingRequest(request: request, origin: origin, key: key))
        default:
            let machine = NonInviteServerTransaction(request: request, reliable: origin.kind.isReliable, timers: configuration.timers)
            servers[key] = ServerEntry(machine: .nonInvite(machine), origin: origin)
            deliver(IncomingRequest(request: request, origin: origin, key: key))
        }
    }

    /// §9.2: answer the CANCEL itself (200, or 481 when nothing matches) and, if the INVITE is
    /// still unanswered, end it with 487.
    private func handleCancel(_ cancel: SIPRequest, _ origin: IncomingMessage, key: TransactionKey) {
        var machine = NonInviteServerTransaction(request: cancel, reliable: origin.kind.isReliable, timers: configuration.timers)
        guard let inviteKey = TransactionKey.server(for: cancel, asMethod: .invite)?.scoped(to: origin.kind.rawValue),
              let inviteMachine = servers[inviteKey]?.machine, inviteMachine.isInvite else {
            let actions = machine.respond(SIPResponse(replyingTo: cancel, statusCode: 481, toTag: BranchGenerator.make()))
            servers[key] = ServerEntry(machine: .nonInvite(machine), origin: origin)
            perform(actions, server: key)
            servers[key]?.linger()
            return
        }
        let actions = machine.respond(SIPResponse(replyingTo: cancel, statusCode: 200, toTag: BranchGenerator.make()))
        servers[key] = ServerEntry(machine: .nonInvite(machine), origin: origin)
        perform(actions, server: key)
        servers[key]?.linger()
        if case .invite(let invite) = inviteMachine, invite.state == .proceeding {
            let terminated = SIPResponse(replyingTo: invite.invite, statusCode: 487, toTag: BranchGenerator.make())
            var inviteEntry = servers[inviteKey]!
            var inviteMachine = invite
            let inviteActions = inviteMachine.respond(terminated)
            inviteEntry.machine = .invite(inviteMachine)
            servers[inviteKey] = inviteEntry
            perform(inviteActions, server: inviteKey)
            servers[inviteKey]?.linger()
            deliver(IncomingRequest(request: cancel, origin: origin, cancelledInvite: invite.invite, key: nil))
        }
    }

    // MARK: - Actions

    private func perform(_ actions: [TransactionAction], client key: TransactionKey) {
        for action in actions {
            guard let index = clients.index(forKey: key) else { return }
            let entry = clients.values[index]
            switch action {
            case .send(let message):
                let target = entry.target
                enqueueSend(destination: .target(target), now: { [transport] in transport.sendNow(message, to: target) }) { [transport] in
                    try await transport.send(message, to: target)
                } onFailure: { stack, error in
                    stack.clientTransportFailed(key, error)
                }
            case .passToTU(let response):
                entry.continuation.yield(response)
            case .startTimer(let timer, let duration):
                startTimer(TimerKey(transaction: key, timer: timer, client: true), duration)
            case .cancelTimer(let timer):
                timers.cancel(TimerKey(transaction: key, timer: timer, client: true))
            case .timeout:
                entry.continuation.finish(throwing: SIPStackError.timeout(requestMethod(entry)))
            case .transportError:
                entry.continuation.finish(throwing: SIPStackError.transport(entry.transportFailure ?? "could not send to \(entry.target)"))
            case .terminated:
                entry.continuation.finish()
                clients[key] = nil
                cancelTimers(of: key, client: true)
            }
        }
    }

    private func perform(_ actions: [TransactionAction], server key: TransactionKey) {
        for action in actions {
            guard let index = servers.index(forKey: key) else { return }
            switch action {
            case .send(.response(let response)):
                let origin = servers.values[index].origin
                enqueueSend(destination: .origin(origin.kind, origin.source), now: { [transport] in transport.sendResponseNow(response, replyingTo: origin) }) { [transport] in
                    try await transport.sendResponse(response, replyingTo: origin)
                } onFailure: { stack, _ in
                    stack.serverTransportFailed(key)
                }
            case .send(.request):
                break
            case .passToTU:
                break
            case .startTimer(let timer, let duration):
                startTimer(TimerKey(transaction: key, timer: timer, client: false), duration)
            case .cancelTimer(let timer):
                timers.cancel(TimerKey(transaction: key, timer: timer, client: false))
            case .timeout:
                logger.debug("server transaction timed out waiting for ACK", metadata: ["transaction": "\(key)"])
            case .transportError:
                logger.debug("server transaction could not send", metadata: ["transaction": "\(key)"])
            case .terminated:
                servers[key] = nil
                cancelTimers(of: key, client: false)
            }
        }
    }

    /// Sends keep their order per destination (a 200 must not overtake the 180 before it),
    /// without one slow destination holding up the others.
    private func enqueueSend(
        destination: SendDestination, now immediate: () -> EventLoopFuture<Void>?, _ send: @escaping @Sendable () async throws -> Void,
        onFailure: @escaping @Sendable (isolated SIPStack, any Error) -> Void
    ) {
        // Nothing queued for this destination and nothing to set up: write now, no task.
        if sendChains[destination] == nil, let write = immediate() {
            write.whenFailure { error in Task { await self.report(error, to: onFailure) } }
            return
        }
        let previous = sendChains[destination]
        let task = Task {
            await previous?.value
            do {
                try await send()
            } catch {
                onFailure(self, error)
            }
        }
        sendChains[destination] = task
        Task {
            await task.value
            if sendChains[destination] == task { sendChains[destination] = nil }
        }
    }

    private func report(_ error: any Error, to onFailure: @Sendable (isolated SIPStack, any Error) -> Void) {
        onFailure(self, error)
    }

    private func requestMethod(_ entry: ClientEntry) -> SIPMethod {
        switch entry.machine {
        case .invite, .acceptedInvite: return .invite
        case .nonInvite(let machine): return machine.request.method
        }
    }

    private func startTimer(_ key: TimerKey, _ duration: Duration) {
        let now = elapsed()
        let deadline = now + duration
        timers.schedule(key, after: duration, now: now)
        if sleeperDeadline.map({ deadline < $0 }) ?? true { sleep(until: deadline) }
    }

    /// Time since the stack was made, on its clock.
    private func elapsed() -> Duration { elapsedNow() }

    private static func elapsedReader<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// (Re)arms the single sleeper for `deadline`. On the real clock it is a timer of the event
    /// loop the stack runs on (no task, no thread hop); another clock (a test's) is slept on.
    private func sleep(until deadline: Duration) {
        sleeper?.cancel()
        scheduledWake?.cancel()
        sleeper = nil
        sleeperDeadline = deadline
        let wait = max(.zero, deadline - elapsed())
        if clock is ContinuousClock {
            let (seconds, attoseconds) = wait.components
            let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
            scheduledWake = transport.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) { [weak self] in
                self?.assumeIsolated { $0.timersDue() }
            }
            return
        }
        let clock = self.clock
        sleeper = Task { [weak self] in
            do { try await clock.sleep(for: wait) } catch { return }
            await self?.timersDue()
        }
    }

    /// Fires every timer that is due, in deadline order, then sleeps until the next one.
    private func timersDue() {
        sleeper = nil
        scheduledWake = nil
        sleeperDeadline = nil
        let now = elapsed()
        while let key = timers.popDue(now: now) { timerFired(key) }
        if sleeperDeadline == nil, let next = timers.nextDeadline() { sleep(until: next) }
    }

    private func cancelTimers(of transaction: TransactionKey, client: Bool) {
        // A lookup per timer name, not a scan of every transaction's timers.
        for timer in TransactionTimer.allCases {
            timers.cancel(TimerKey(transaction: transaction, timer: timer, client: client))
        }
    }

    private func timerFired(_ key: TimerKey) {
        if key.client {
            guard let actions = clients[key.transaction]?.machine.timerFired(key.timer) else { return }
            perform(actions, client: key.transaction)
        } else {
            guard let actions = servers[key.transaction]?.machine.timerFired(key.timer) else { return }
            perform(actions, server: key.transaction)
            servers[key.transaction]?.linger()
        }
    }

    private func clientTransportFailed(_ key: TransactionKey, _ error: any Error) {
        guard let actions = clients[key]?.machine.transportFailed() else { return }
        clients[key]?.transportFailure = "\(error)"
        logger.info("transport error", metadata: ["transaction": "\(key)", "error": "\(error)"])
        perform(actions, client: key)
    }

    private func serverTransportFailed(_ key: TransactionKey) {
        guard let actions = servers[key]?.machine.transportFailed() else { return }
        perform(actions, server: key)
    }

    /// How many transactions are alive (for tests and metrics).
    public var transactionCount: (client: Int, server: Int) { (clients.count, servers.count) }
}

// One entry point per input for either kind of transaction, so the runtime handles both alike.
extension SIPStack.ClientEntry.Machine {
    mutating func receive(_ response: SIPResponse) -> [TransactionAction] {
        switch self {
        case .invite(var m): defer { self = .invite(m) }; return m.receive(response)
        case .nonInvite(var m): defer { self = .nonInvite(m) }; return m.receive(response)
        case .acceptedInvite: return response.isSuccess ? [.passToTU(response)] : []
        }
    }

    mutating func timerFired(_ timer: TransactionTimer) -> [TransactionAction] {
        switch self {
        case .invite(var m): defer { self = .invite(m) }; return m.timerFired(timer)
        case .nonInvite(var m): defer { self = .nonInvite(m) }; return m.timerFired(timer)
        case .acceptedInvite: return timer == .M ? [.terminated] : []
        }
    }

    mutating func transportFailed() -> [TransactionAction] {
        switch self {
        case .invite(var m): defer { self = .invite(m) }; return m.transportFailed()
        case .nonInvite(var m): defer { self = .nonInvite(m) }; return m.transportFailed()
        case .acceptedInvite: return []
        }
    }

    /// An accepted INVITE drops its request (see `acceptedInvite`).
    mutating func linger() {
        if case .invite(let m) = self, m.state == .accepted { self = .acceptedInvite }
    }
}

extension SIPStack.ServerEntry.Machine {
    var isAcceptedInvite: Bool {
        switch self {
        case .invite(let m): return m.state == .accepted
        case .lingering(let l): return l.accepted
        case .nonInvite: return false
        }
    }

    var isInvite: Bool {
        switch self {
        case .invite: return true
        case .lingering(let l): return l.invite
        case .nonInvite: return false
        }
    }

    /// Once only its last timer is left, the transaction keeps what it may send again and drops
    /// the rest (see `SIPStack.Lingering`).
    mutating func linger() {
        switch self {
        case .invite(let m) where m.state == .accepted:
            self = .lingering(.init(response: nil, invite: true, accepted: true))
        case .invite(let m) where m.state == .confirmed:
            self = .lingering(.init(response: nil, invite: true, accepted: false))
        case .nonInvite(let m) where m.state == .completed:
            self = .lingering(.init(response: m.finalResponse, invite: false, accepted: false))
        default:
            break
        }
    }

    mutating func respond(_ response: SIPResponse, retransmit: Bool = true) -> [TransactionAction] {
        switch self {
        case .invite(var m): defer { self = .invite(m) }; return m.respond(response, retransmit: retransmit)
        case .nonInvite(var m): defer { self = .nonInvite(m) }; return m.respond(response)
        case .lingering: return []
        }
    }

    mutating func receive(_ request: SIPRequest) -> [TransactionAction] {
        switch self {
        case .invite(var m): defer { self = .invite(m) }; return m.receive(request)
        case .nonInvite(var m): defer { self = .nonInvite(m) }; return m.receive(request)
        case .lingering(let l): return l.response.map { [.send(.response($0))] } ?? []
        }
    }

    mutating func timerFired(_ timer: TransactionTimer) -> [TransactionAction] {
        switch self {
        case .invite(var m): defer { self = .invite(m) }; return m.timerFired(timer)
        case .nonInvite(var m): defer { self = .nonInvite(m) }; return m.timerFired(timer)
        case .lingering: return [.J, .L, .I].contains(timer) ? [.terminated] : []
        }
    }

    mutating func transportFailed() -> [TransactionAction] {
        switch self {
        case .invite(var m): defer { self = .invite(m) }; return m.transportFailed()
        case .nonInvite(var m): defer { self = .nonInvite(m) }; return m.transportFailed()
        case .lingering: return [.terminated]
        }
    }
}
