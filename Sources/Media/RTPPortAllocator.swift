// Binds RTP/RTCP socket pairs (even port, port + 1) from a configured range.

import NIOCore
import NIOPosix

enum RTPPortAllocator {
    final class Inbound: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let continuation: AsyncStream<(AddressedEnvelope<ByteBuffer>, Bool)>.Continuation
        let isRTCP: Bool

        init(_ continuation: AsyncStream<(AddressedEnvelope<ByteBuffer>, Bool)>.Continuation, isRTCP: Bool) {
            self.continuation = continuation
            self.isRTCP = isRTCP
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield((unwrapInboundIn(data), isRTCP))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {}  // ICMP errors: keep the socket
    }

    static func bind(
        group: any EventLoopGroup, host: String, ports: ClosedRange<Int>,
        continuation: AsyncStream<(AddressedEnvelope<ByteBuffer>, Bool)>.Continuation
    ) async throws -> (any Channel, (any Channel)?) {
        let evenPorts = Array(stride(from: ports.lowerBound + ports.lowerBound % 2, to: ports.upperBound, by: 2))
        // Start at a random place in the range so concurrent sessions rarely collide.
        let offset = evenPorts.isEmpty ? 0 : Int.random(in: 0..<evenPorts.count)
        for i in 0..<evenPorts.count {
            let port = evenPorts[(offset + i) % evenPorts.count]
            guard let rtp = try? await channel(group: group, host: host, port: port, continuation, isRTCP: false) else { continue }
            if let rtcp = try? await channel(group: group, host: host, port: port + 1, continuation, isRTCP: true) {
                return (rtp, rtcp)
            }
            try? await rtp.close()
        }
        throw MediaError.noFreePort(ports)
    }

    static func channel(
        group: any EventLoopGroup, host: String, port: Int,
        _ continuation: AsyncStream<(AddressedEnvelope<ByteBuffer>, Bool)>.Continuation, isRTCP: Bool
    ) async throws -> any Channel {
        try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Inbound(continuation, isRTCP: isRTCP))
                }
            }
            .bind(host: host, port: port).get()
    }
}

public enum MediaError: Error, Sendable, CustomStringConvertible {
    case noFreePort(ClosedRange<Int>)

    public var description: String {
        switch self {
        case .noFreePort(let range): return "no free RTP port pair in \(range.lowerBound)–\(range.upperBound)"
        }
    }
}
