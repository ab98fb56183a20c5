// The TCP and TLS channel handler (behind swift-nio-ssl's handler for TLS): framing by Content-Length, CRLF keep-alives
// (RFC 5626 §3.5.1), and idle and slow-sender timeouts.

import NIOCore
import SIPMessage

final class StreamHandler: ChannelDuplexHandler, @unchecked Sendable {
    // @unchecked: all state is touched only on the channel's event loop (NIO handler contract).
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Timeouts: Sendable {
        /// Close a connection that carried nothing for this long.
        var idle: TimeAmount
        /// The same once something authenticated on it.
        var trustedIdle: TimeAmount
        /// Close a connection whose partial message is not completed within this time.
        var slowSender: TimeAmount
    }

    private let parser: SIPParser
    /// TCP, or TLS when a TLS handler sits before this one.
    private let kind: SIPTransportKind
    private var framer: StreamFramer
    private let counters: SIPTransportCounters
    private var timeouts: Timeouts

    /// Told by the transport when something authenticated on the connection.
    struct Trusted {}
    private let deliver: @Sendable (IncomingMessage) -> Void
    private let onPong: @Sendable (ConnectionID) -> Void
    private var idleTimer: Scheduled<Void>?
    private var slowSenderTimer: Scheduled<Void>?

    init(
        parser: SIPParser, kind: SIPTransportKind = .tcp, counters: SIPTransportCounters, timeouts: Timeouts,
        deliver: @escaping @Sendable (IncomingMessage) -> Void,
        onPong: @escaping @Sendable (ConnectionID) -> Void = { _ in }
    ) {
        self.parser = parser
        self.kind = kind
        self.framer = StreamFramer(limits: parser.limits)
        self.counters = counters
        self.timeouts = timeouts
        self.deliver = deliver
        self.onPong = onPong
    }

    func channelActive(context: ChannelHandlerContext) {
        counters.bump(\.connectionsOpened)
        armIdleTimer(context: context)
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is Trusted {
            timeouts.idle = timeouts.trustedIdle
            armIdleTimer(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        counters.bump(\.connectionsClosed)
        idleTimer?.cancel()
        slowSenderTimer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        armIdleTimer(context: context)
        framer.append(buffer.readableBytesView)
        let id = ConnectionID(value: ObjectIdentifier(context.channel))
        let source = context.channel.remoteAddress
        while let output = framer.next() {
            switch output {
            case .message(let bytes):
                handleMessage(bytes, context: context, id: id, source: source)
            case .keepAlivePing:
                counters.bump(\.keepAlivePings)
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: "\r\n")), promise: nil)
            case .keepAlivePong:
                counters.bump(\.keepAlivePongs)
                onPong(id)
            case .malformed(let head, let reason):
                counters.bump(\.malformed)
                respondToMalformed(SIPParseError(reason), head: head, context: context)
            case .fatal:
                counters.bump(\.malformed)
                counters.bump(\.connectionsTimedOut)
                context.close(promise: nil)
                return
            }
        }
        armSlowSenderTimer(context: context)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        armIdleTimer(context: context)
        context.write(data, promise: promise)
    }

    private func handleMessage(_ bytes: [UInt8], context: ChannelHandlerContext, id: ConnectionID, source: SocketAddress?) {
        do throws(SIPParseError) {
            var message = try parser.parse(bytes, framing: .stream)
            counters.bump(\.messagesReceived)
            guard let source else { return }
            if case .request(var request) = message {
                ResponseRouting.stampTopVia(&request, source: source)
                message = .request(request)
            }
            deliver(IncomingMessage(message: message, source: source, kind: kind, connection: id))
        } catch {
            counters.bump(\.malformed)
            respond(error, context: context)
        }
    }

    private func respondToMalformed(_ error: SIPParseError, head: [UInt8], context: ChannelHandlerContext) {
        // Re-parse the head alone to recover the headers needed to answer.
        var error = error
        if case .failure(let headError) = Result(catching: { () throws(SIPParseError) in try parser.parse(head, framing: .datagram) }) {
            error.partial = headError.partial
        }
        respond(error, context: context)
    }

    private func respond(_ error: SIPParseError, context: ChannelHandlerContext) {
        guard let response = error.errorResponse(toTag: ErrorResponseTag.make()) else {
            counters.bump(\.dropped)
            return
        }
        counters.bump(\.errorResponses)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: response.serialized())), promise: nil)
    }

    private func armIdleTimer(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: timeouts.idle) { [counters] in
            counters.bump(\.connectionsTimedOut)
            loopBound.value.close(promise: nil)
        }
    }

    /// A partial message that stays incomplete too long ties up memory: close the connection.
    private func armSlowSenderTimer(context: ChannelHandlerContext) {
        if framer.bufferedByteCount == 0 {
            slowSenderTimer?.cancel()
            slowSenderTimer = nil
            return
        }
        guard slowSenderTimer == nil else { return }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        slowSenderTimer = context.eventLoop.scheduleTask(in: timeouts.slowSender) { [counters] in
            counters.bump(\.connectionsTimedOut)
            loopBound.value.close(promise: nil)
        }
    }
}
