// UDP, TCP and TLS transports on SwiftNIO: listening, connecting, connection reuse, and response
// routing (RFC 3261 §18).

import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SIPMessage

public final class SIPTransport: Sendable {
    public struct Configuration: Sendable {
        public var parserLimits = SIPParserLimits()
        /// A stream connection idle this long is closed (RFC 5626 flows send keep-alives sooner).
        public var idleTimeout: TimeAmount = .seconds(600)
        /// An accepted connection on which nothing authenticated yet (see `markTrusted`) is
        /// closed after this much idleness: idle connections cost a descriptor each.
        public var untrustedIdleTimeout: TimeAmount = .seconds(30)
        /// Accepted stream connections at most, in total and from one source address; more are
        /// closed at once.
        public var maxConnections = 4096
        public var maxConnectionsPerSource = 64
        /// A partial message not completed within this time closes its connection.
        public var slowSenderTimeout: TimeAmount = .seconds(32)
        public var connectTimeout: TimeAmount = .seconds(5)
        /// Socket buffer sizes asked for the UDP socket (receive and send).
        public var udpBufferBytes: SocketOptionValue = 4 << 20
        /// Certificates and trust for TLS (nil: no TLS; listening or connecting over it throws).
        public var tls: SIPTLS?
        /// A TLS handshake not finished within this time closes the connection.
        public var handshakeTimeout: TimeAmount = .seconds(10)
        /// Called for every message sent and received (a SIP trace for logs and tools).
        public var trace: (@Sendable (SIPTraceEvent) -> Void)?

        public init() {}
    }

    public let counters = SIPTransportCounters()
    /// Every message received on every transport, in arrival order per socket.
    public let incoming: AsyncStream<IncomingMessage>

    /// The one event loop every socket of this transport lives on. The stack (and a server built
    /// on it) runs on it too, so a message goes from socket to handler and back without a thread hop.
    public let eventLoop: any EventLoop
    private let configuration: Configuration
    private let continuation: AsyncStream<IncomingMessage>.Continuation
    private let state = NIOLockedValueBox(State())

    private struct State {
        var udp: (any Channel)?
        var tcpListener: (any Channel)?
        var tlsListener: (any Channel)?
        var connections: [ConnectionID: any Channel] = [:]
        /// Open stream connections by transport and remote address, for reuse.
        var connectionByAddress: [StreamKey: ConnectionID] = [:]
        /// Accepted connections, in total and by source IP.
        var accepted = 0
        var acceptedFrom: [String: Int] = [:]
    }

    struct StreamKey: Hashable {
        var kind: SIPTransportKind
        var address: SocketAddress
    }

    public init(group: any EventLoopGroup, configuration: Configuration = Configuration()) {
        eventLoop = group.next()
        self.configuration = configuration
        (incoming, continuation) = AsyncStream.makeStream(of: IncomingMessage.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    private var parser: SIPParser { SIPParser(limits: configuration.parserLimits) }

    private var deliver: @Sendable (IncomingMessage) -> Void {
        { [continuation, receiver, trace = configuration.trace] message in
            trace?(SIPTraceEvent(direction: .received, message: message.message, kind: message.kind, peer: "\(message.source.ipAddress ?? "?"):\(message.source.port ?? 0)"))
            if !receiver(message) { continuation.yield(message) }
        }
    }

    /// Set by the consumer that runs on `eventLoop` (the stack): messages are handed to it where
    /// they are read, in place of `incoming` (no stream, no task wake-up per message).
    private let receiver = Receiver()

    /// Messages go to `receive`, called on `eventLoop`, instead of `incoming` (nil: back to `incoming`).
    public func setReceiver(_ receive: (@Sendable (IncomingMessage) -> Void)?) {
        receiver.set(receive)
    }

    /// The receiver behind a lock, held at its concrete type (a closure kept in a generic box is
    /// re-wrapped at each read).
    final class Receiver: @unchecked Sendable {
        private let lock = NIOLock()
        private var receive: (@Sendable (IncomingMessage) -> Void)?

        func set(_ receive: (@Sendable (IncomingMessage) -> Void)?) {
            lock.withLockVoid { self.receive = receive }
        }

        /// False when nobody is set (the message goes to `incoming`).
        func callAsFunction(_ message: IncomingMessage) -> Bool {
            lock.lock()
            let receive = self.receive
            lock.unlock()
            guard let receive else { return false }
            receive(message)
            return true
        }
    }

    /// Starts listening; port 0 picks a free port. Returns the bound address.
    @discardableResult
    public func listen(_ kind: SIPTransportKind, host: String, port: Int) async throws -> SocketAddress {
        switch kind {
        case .udp:
            let channel = try await DatagramBootstrap(group: eventLoop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
                // Room for a burst (the kernel caps it at net.core.rmem_max / wmem_max): a datagram
                // dropped for want of buffer costs a retransmission 500 ms later.
                .channelOption(.socketOption(.so_rcvbuf), value: configuration.udpBufferBytes)
                .channelOption(.socketOption(.so_sndbuf), value: configuration.udpBufferBytes)
                .channelInitializer { [parser, counters, deliver] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            DatagramHandler(parser: parser, counters: counters, deliver: deliver))
                    }
                }
                .bind(host: host, port: port).get()
            state.withLockedValue { $0.udp = channel }
            return channel.localAddress!
        case .tcp, .tls:
            let tls: NIOSSLContext?
            if kind == .tls {
                guard let server = configuration.tls?.server else { throw SIPTransportError.noTLS("no certificate to listen for TLS on \(host):\(port)") }
                tls = server
            } else {
                tls = nil
            }
            let channel = try await ServerBootstrap(group: eventLoop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard self.admit(channel) else {
                            self.counters.bump(\.connectionsRefused)
                            channel.close(promise: nil)
                            return
                        }
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                            self.closeUnlessHandshaken(channel)
                        }
                        try self.installStreamHandler(on: channel, kind: kind, accepted: true)
                    }
                }
                .bind(host: host, port: port).get()
            state.withLockedValue { state in
                if kind == .tls { state.tlsListener = channel } else { state.tcpListener = channel }
            }
            return channel.localAddress!
        }
    }

    /// A connection whose TLS handshake has not finished in time is closed (a descriptor held
    /// open by a peer that never speaks TLS).
    private func closeUnlessHandshaken(_ channel: any Channel) {
        let timer = channel.eventLoop.scheduleTask(in: configuration.handshakeTimeout) { [counters] in
            counters.bump(\.connectionsTimedOut)
            channel.close(promise: nil)
        }
        try? channel.pipeline.syncOperations.addHandler(HandshakeWatch(timer: timer))
    }

    /// UDP and TCP on one port. With port 0, a port free for both: the UDP port is tried for TCP,
    /// and another is taken when TCP finds it in use.
    @discardableResult
    public func listenUDPAndTCP(host: String, port: Int) async throws -> SocketAddress {
        var attempts = 0
        while true {
            let udp = try await listen(.udp, host: host, port: port)
            do {
                try await listen(.tcp, host: host, port: udp.port ?? port)
                return udp
            } catch where port == 0 && attempts < 20 {
                attempts += 1
                let channel = state.withLockedValue { state -> (any Channel)? in
                    defer { state.udp = nil }
                    return state.udp
                }
                try? await channel?.close()
            }
        }
    }

    /// The address a listener is bound to, for Via sent-by and Contact.
    public func localAddress(_ kind: SIPTransportKind) -> SocketAddress? {
        state.withLockedValue { state in
            switch kind {
            case .udp: state.udp?.localAddress
            case .tcp: state.tcpListener?.localAddress
            case .tls: state.tlsListener?.localAddress
            }
        }
    }

    /// Sends a message to a target, reusing an open connection to that address for TCP.
    public func send(_ message: SIPMessage, to target: SIPTarget) async throws {
        if let write = sendNow(message, to: target) { return try await write.get() }
        // Something to set up first: a host name to resolve, a connection to open (or no listener).
        let address = try resolve(target)
        switch target.kind {
        case .udp:
            guard let udp = state.withLockedValue({ $0.udp }) else { throw SIPTransportError.notListening(.udp) }
            try await writeNow(message, on: udp, datagramTo: address, peer: target.description).get()
        case .tcp, .tls:
            let channel = try await connection(to: address, target: target)
            try await writeNow(message, on: channel, kind: target.kind, peer: target.description).get()
        }
    }

    /// Starts sending at once when nothing has to be set up first (UDP to an IP address, or TCP on
    /// a connection already open) and returns the write; nil when `send(_:to:)` must do it. Saves
    /// a task and a thread hop per message on the busy path.
    public func sendNow(_ message: SIPMessage, to target: SIPTarget) -> EventLoopFuture<Void>? {
        guard let address = try? SocketAddress(ipAddress: target.host, port: target.port) else { return nil }
        switch target.kind {
        case .udp:
            guard let udp = state.withLockedValue({ $0.udp }) else { return nil }
            return writeNow(message, on: udp, datagramTo: address, peer: target.description)
        case .tcp, .tls:
            let key = StreamKey(kind: target.kind, address: address)
            guard let channel = state.withLockedValue({ state in state.connectionByAddress[key].flatMap { state.connections[$0] } }),
                  channel.isActive else { return nil }
            return writeNow(message, on: channel, kind: target.kind, peer: target.description)
        }
    }

    /// `sendResponse` at once when it can be (see `sendNow`): on the request's open connection,
    /// else to the top Via's address.
    public func sendResponseNow(_ response: SIPResponse, replyingTo request: IncomingMessage) -> EventLoopFuture<Void>? {
        if let connection = request.connection {
            guard let channel = state.withLockedValue({ $0.connections[connection] }), channel.isActive else { return nil }
            return writeNow(.response(response), on: channel, kind: request.kind, peer: "\(connection)")
        }
        guard let via = response.topVia else { return nil }
        return sendNow(.response(response), to: ResponseRouting.target(forResponseVia: via, arrivedOver: request.kind))
    }

    /// Traces, serializes and writes a message on a channel (a datagram to `address` on UDP), counting
    /// the outcome. Runs no task: the write is handed to the channel's event loop.
    private func writeNow(_ message: SIPMessage, on channel: any Channel, datagramTo address: SocketAddress? = nil, kind: SIPTransportKind = .tcp, peer: String) -> EventLoopFuture<Void> {
        // SDES keys leave only over TLS (RFC 4568 §8.3).
        let message = address == nil && kind == .tls ? message : SDESGuard.withoutKeys(message)
        configuration.trace?(SIPTraceEvent(direction: .sent, message: message, kind: address == nil ? kind : .udp, peer: peer))
        let buffer = channel.allocator.buffer(bytes: message.serialized())
        let write = address.map { channel.writeAndFlush(AddressedEnvelope(remoteAddress: $0, data: buffer)) } ?? channel.writeAndFlush(buffer)
        return counted(write)
    }

    private func counted(_ write: EventLoopFuture<Void>) -> EventLoopFuture<Void> {
        write.whenComplete { [counters] result in
            if case .success = result { counters.bump(\.messagesSent) } else { counters.bump(\.sendFailures) }
        }
        return write
    }

    /// Sends on a specific stream connection (a response, or a request on an RFC 5626 flow).
    /// Throws if that connection has closed.
    public func send(_ message: SIPMessage, on connection: ConnectionID) async throws {
        guard let channel = state.withLockedValue({ $0.connections[connection] }) else {
            throw SIPTransportError.noRouteForResponse("connection \(connection) is closed")
        }
        try await writeNow(message, on: channel, kind: kind(of: connection), peer: "\(connection)").get()
    }

    /// The transport a stream connection runs (TLS when a TLS handler is in its pipeline).
    private func kind(of connection: ConnectionID) -> SIPTransportKind {
        state.withLockedValue { state in state.connectionByAddress.first { $0.value == connection }?.key.kind } ?? .tcp
    }

    /// Sends a response per §18.2.2: on the request's connection when it is still open, else
    /// to the address the top Via names (received/rport).
    public func sendResponse(_ response: SIPResponse, replyingTo request: IncomingMessage) async throws {
        if let write = sendResponseNow(response, replyingTo: request) { return try await write.get() }
        if let connection = request.connection {
            if (try? await send(.response(response), on: connection)) != nil { return }
        }
        guard let via = response.topVia ?? response.headers[.via].flatMap(Via.sentByPrefix) else {
            throw SIPTransportError.noRouteForResponse("the response has no usable top Via")
        }
        try await send(.response(response), to: ResponseRouting.target(forResponseVia: via, arrivedOver: request.kind))
    }

    /// Sends a CRLFCRLF keep-alive ping on a stream connection (RFC 5626 §3.5.1).
    public func sendKeepAlive(to target: SIPTarget) async throws {
        let address = try resolve(target)
        switch target.kind {
        case .udp:
            guard let udp = state.withLockedValue({ $0.udp }) else { throw SIPTransportError.notListening(.udp) }
            try await write(udp, AddressedEnvelope(remoteAddress: address, data: udp.allocator.buffer(string: "\r\n\r\n")))
        case .tcp, .tls:
            let channel = try await connection(to: address, target: target)
            try await write(channel, channel.allocator.buffer(string: "\r\n\r\n"))
        }
    }

    public var openConnectionCount: Int { state.withLockedValue { $0.connections.count } }

    public func shutdown() async {
        let channels = state.withLockedValue { state -> [any Channel] in
            var all: [any Channel] = Array(state.connections.values)
            if let udp = state.udp { all.append(udp) }
            if let tcp = state.tcpListener { all.append(tcp) }
            if let tls = state.tlsListener { all.append(tls) }
            state = State()
            return all
        }
        for channel in channels { try? await channel.close() }
        continuation.finish()
    }

    // MARK: - Internals

    private func write<T: Sendable>(_ channel: any Channel, _ data: T) async throws {
        try await counted(channel.writeAndFlush(data)).get()
    }

    private func resolve(_ target: SIPTarget) throws -> SocketAddress {
        if let address = try? SocketAddress(ipAddress: target.host, port: target.port) { return address }
        do {
            return try SocketAddress.makeAddressResolvingHost(target.host, port: target.port)
        } catch {
            throw SIPTransportError.unresolvable(target.host)
        }
    }

    private func connection(to address: SocketAddress, target: SIPTarget) async throws -> any Channel {
        let key = StreamKey(kind: target.kind, address: address)
        if let existing = state.withLockedValue({ state in state.connectionByAddress[key].flatMap { state.connections[$0] } }),
           existing.isActive {
            return existing
        }
        let tls = target.kind == .tls ? try tlsSettings(for: target) : nil
        let handshaken = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(configuration.connectTimeout)
                .channelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(tls.clientHandler(host: target.host))
                            handshaken.withLockedValue { $0 = self.handshake(of: channel) }
                        }
                        try self.installStreamHandler(on: channel, kind: target.kind)
                    }
                }
                .connect(to: address).get()
            // A TLS connection is usable once its handshake (and the server's certificate check) is done.
            if let handshake = handshaken.withLockedValue({ $0 }) { try await handshake.get() }
        } catch {
            throw SIPTransportError.connectionFailed(target, "\(error)")
        }
        // The remote address is known only once connected: index the connection by it for reuse.
        let id = ConnectionID(value: ObjectIdentifier(channel))
        state.withLockedValue { state in
            if state.connections[id] != nil { state.connectionByAddress[key] = id }
        }
        return channel
    }

    /// Counts an accepted connection against the limits; false (and nothing counted) when over.
    private func admit(_ channel: any Channel) -> Bool {
        let source = channel.remoteAddress?.ipAddress ?? "?"
        let admitted = state.withLockedValue { state -> Bool in
            guard state.accepted < configuration.maxConnections, state.acceptedFrom[source, default: 0] < configuration.maxConnectionsPerSource else { return false }
            state.accepted += 1
            state.acceptedFrom[source, default: 0] += 1
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { [state] _ in
            state.withLockedValue { state in
                state.accepted -= 1
                state.acceptedFrom[source, default: 1] -= 1
                if state.acceptedFrom[source] == 0 { state.acceptedFrom[source] = nil }
            }
        }
        return true
    }

    /// Something authenticated on this connection (a REGISTER or a call's digest): it may stay
    /// idle as long as any (`idleTimeout`).
    public func markTrusted(_ connection: ConnectionID) {
        guard let channel = state.withLockedValue({ $0.connections[connection] }) else { return }
        channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(StreamHandler.Trusted()) }
    }

    private func tlsSettings(for target: SIPTarget) throws -> SIPTLS {
        guard let tls = configuration.tls, tls.client != nil else { throw SIPTransportError.noTLS("no trust configured to connect to \(target)") }
        return tls
    }

    /// Succeeds when the channel's TLS handshake completes; fails if the channel closes first
    /// (a refused certificate) or the handshake outlasts `handshakeTimeout`. Called on the
    /// channel's event loop, before the handshake can start.
    private func handshake(of channel: any Channel) -> EventLoopFuture<Void> {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        let timer = channel.eventLoop.scheduleTask(in: configuration.handshakeTimeout) {
            promise.fail(HandshakeWatch.Failure(description: "the TLS handshake did not finish within \(self.configuration.handshakeTimeout.nanoseconds / 1_000_000_000) s"))
            channel.close(promise: nil)
        }
        try? channel.pipeline.syncOperations.addHandler(HandshakeWatch(timer: timer, done: promise))
        channel.closeFuture.whenComplete { _ in
            timer.cancel()
            promise.fail(HandshakeWatch.Failure(description: "the server closed the connection during the TLS handshake"))
        }
        return promise.futureResult
    }

    private func installStreamHandler(on channel: any Channel, kind: SIPTransportKind, accepted: Bool = false) throws {
        let timeouts = StreamHandler.Timeouts(idle: accepted ? min(configuration.untrustedIdleTimeout, configuration.idleTimeout) : configuration.idleTimeout,
                                              trustedIdle: configuration.idleTimeout, slowSender: configuration.slowSenderTimeout)
        try channel.pipeline.syncOperations.addHandler(
            StreamHandler(parser: parser, kind: kind, counters: counters, timeouts: timeouts, deliver: deliver))
        let id = ConnectionID(value: ObjectIdentifier(channel))
        let key = channel.remoteAddress.map { StreamKey(kind: kind, address: $0) }
        state.withLockedValue { state in
            state.connections[id] = channel
            if let key { state.connectionByAddress[key] = id }
        }
        channel.closeFuture.whenComplete { [state] _ in
            state.withLockedValue { state in
                state.connections[id] = nil
                if let key, state.connectionByAddress[key] == id { state.connectionByAddress[key] = nil }
            }
        }
    }
}

/// Watches a TLS connection's handshake: cancels its timer when it completes and tells whoever
/// waits for it.
final class HandshakeWatch: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // @unchecked: touched only on the channel's event loop (NIO handler contract).
    typealias InboundIn = ByteBuffer
    private let timer: Scheduled<Void>
    private let done: EventLoopPromise<Void>?

    init(timer: Scheduled<Void>, done: EventLoopPromise<Void>? = nil) {
        self.timer = timer
        self.done = done
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The handshake's own failure (a certificate refused, a name that does not match) is the one
    /// reported, before the close it brings.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done?.fail(error)
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            timer.cancel()
            done?.succeed(())
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
