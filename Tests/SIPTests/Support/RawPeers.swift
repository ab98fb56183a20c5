// Minimal raw UDP and TCP peers for transport tests: they send bytes and collect what comes back.

import TestSupport
import NIOCore
import NIOPosix

/// Collects inbound bytes into an AsyncStream and finishes it when the channel closes.
final class Collector<In: Sendable>: ChannelInboundHandler, Sendable {
    typealias InboundIn = In
    let continuation: AsyncStream<[UInt8]>.Continuation
    let bytes: @Sendable (In) -> [UInt8]

    init(continuation: AsyncStream<[UInt8]>.Continuation, bytes: @escaping @Sendable (In) -> [UInt8]) {
        self.continuation = continuation
        self.bytes = bytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(bytes(unwrapInboundIn(data)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
    }
}

final class RawUDPPeer: Sendable {
    let channel: any Channel
    let received: AsyncStream<[UInt8]>

    init(group: any EventLoopGroup, host: String = "127.0.0.1", port: Int = 0) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        received = stream
        channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Collector<AddressedEnvelope<ByteBuffer>>(continuation: continuation) { Array($0.data.readableBytesView) })
                }
            }
            .bind(host: host, port: port).get()
    }

    var port: Int { channel.localAddress!.port! }

    func send(_ text: String, to address: SocketAddress) async throws {
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(string: text)))
    }

    func close() async { try? await channel.close() }
}

final class RawTCPPeer: Sendable {
    let channel: any Channel
    let received: AsyncStream<[UInt8]>

    init(group: any EventLoopGroup, to address: SocketAddress) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        received = stream
        channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Collector<ByteBuffer>(continuation: continuation) { Array($0.readableBytesView) })
                }
            }
            .connect(to: address).get()
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Everything received until `predicate` holds for the accumulated text.
    func receive(within seconds: Double, until predicate: @escaping @Sendable (String) -> Bool) async throws -> String {
        let stream = received
        return try await withTimeout(seconds, "TCP data") {
            var text = ""
            for await chunk in stream {
                text += String(decoding: chunk, as: UTF8.self)
                if predicate(text) { return text }
            }
            throw TimedOut(what: "TCP data (connection closed; got \(text.debugDescription))", seconds: seconds)
        }
    }

    /// Waits until the server closes the connection.
    func waitForClose(within seconds: Double) async throws {
        let stream = received
        try await withTimeout(seconds, "the server to close the connection") {
            for await _ in stream {}
        }
    }

    func close() async { try? await channel.close() }
}
