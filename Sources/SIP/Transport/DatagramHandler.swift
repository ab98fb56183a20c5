// The UDP channel handler: one datagram is one message (RFC 3261 §18.3).

import NIOCore
import SIPMessage

final class DatagramHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: all state is touched only on the channel's event loop (NIO handler contract).
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let parser: SIPParser
    private let counters: SIPTransportCounters
    private let deliver: @Sendable (IncomingMessage) -> Void

    init(parser: SIPParser, counters: SIPTransportCounters, deliver: @escaping @Sendable (IncomingMessage) -> Void) {
        self.parser = parser
        self.counters = counters
        self.deliver = deliver
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let source = envelope.remoteAddress
        let outcome = envelope.data.withUnsafeReadableBytes { raw in
            if raw.allSatisfy({ $0 == 0x0D || $0 == 0x0A || $0 == 0x20 }) { return Outcome.keepAlive }
            do throws(SIPParseError) {
                return .message(try parser.parse(buffer: raw.bindMemory(to: UInt8.self), framing: .datagram))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .keepAlive:
            counters.bump(\.keepAlivePings)
        case .message(var message):
            counters.bump(\.messagesReceived)
            if case .request(var request) = message {
                ResponseRouting.stampTopVia(&request, source: source)
                message = .request(request)
            }
            deliver(IncomingMessage(message: message, source: source, kind: .udp, connection: nil))
        case .failure(let error):
            counters.bump(\.malformed)
            guard let response = error.errorResponse(toTag: ErrorResponseTag.make()) else {
                counters.bump(\.dropped)
                return
            }
            // A malformed request is answered at its source: its Via may not be trustworthy.
            counters.bump(\.errorResponses)
            let bytes = context.channel.allocator.buffer(bytes: response.serialized())
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: source, data: bytes)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP-driven errors on an unconnected UDP socket are not fatal to the listener.
        counters.bump(\.sendFailures)
    }

    private enum Outcome {
        case keepAlive
        case message(SIPMessage)
        case failure(SIPParseError)
    }
}

enum ErrorResponseTag {
    static func make() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}
