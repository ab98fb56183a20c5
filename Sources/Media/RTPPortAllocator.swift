// Binds RTP/RTCP socket pairs (even port, port + 1) from a configured range, and holds what
// arrives on them for the session's next 20 ms tick.

import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Datagrams as they arrive (with their arrival time), taken by the session at its next tick:
/// no task wakes up per packet. Bounded: the oldest go first if nobody takes them.
final class InboundQueue: Sendable {
    struct Item: Sendable {
        var envelope: AddressedEnvelope<ByteBuffer>
        var isRTCP: Bool
        var arrival: ContinuousClock.Instant
    }

    private let items = NIOLockedValueBox<[Item]>([])
    let capacity: Int

    init(capacity: Int = 64) { self.capacity = capacity }

    func push(_ item: Item) {
        items.withLockedValue { items in
            if items.count >= capacity { items.removeFirst() }
            items.append(item)
        }
    }

    func drain() -> [Item] {
        items.withLockedValue { items in
            defer { items.removeAll(keepingCapacity: true) }
            return items
        }
    }
}

enum RTPPortAllocator {
    final class Inbound: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let queue: InboundQueue
        let isRTCP: Bool

        init(_ queue: InboundQueue, isRTCP: Bool) {
            self.queue = queue
            self.isRTCP = isRTCP
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            queue.push(.init(envelope: unwrapInboundIn(data), isRTCP: isRTCP, arrival: .now))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {}  // ICMP errors: keep the socket
    }

    static func bind(
        group: any EventLoopGroup, host: String, ports: ClosedRange<Int>, queue: InboundQueue
    ) async throws -> (any Channel, (any Channel)?) {
        // Both sockets on one event loop: the session's ticks and both streams then share a thread.
        let loop = group.next()
        let evenPorts = Array(stride(from: ports.lowerBound + ports.lowerBound % 2, to: ports.upperBound, by: 2))
        // Start at a random place in the range so concurrent sessions rarely collide.
        let offset = evenPorts.isEmpty ? 0 : Int.random(in: 0..<evenPorts.count)
        for i in 0..<evenPorts.count {
            let port = evenPorts[(offset + i) % evenPorts.count]
            guard let rtp = try? await channel(group: loop, host: host, port: port, queue, isRTCP: false) else { continue }
            if let rtcp = try? await channel(group: loop, host: host, port: port + 1, queue, isRTCP: true) {
                return (rtp, rtcp)
            }
            try? await rtp.close()
        }
        throw MediaError.noFreePort(ports)
    }

    static func channel(
        group: any EventLoopGroup, host: String, port: Int,
        _ queue: InboundQueue, isRTCP: Bool
    ) async throws -> any Channel {
        try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Inbound(queue, isRTCP: isRTCP))
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
