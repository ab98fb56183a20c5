// Two media sessions talking RTP over loopback.

import Audio
import Foundation
import NIOCore
import NIOPosix
import RTP
import SDP
import SRTP
import Testing
@testable import Media

@Suite(.serialized) struct MediaSessionTests {
    let group = MultiThreadedEventLoopGroup.singleton

    func temporaryWAV() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-media-\(UUID()).wav")
    }

    func pair(recordA: URL, recordB: URL) async throws -> (MediaSession, MediaSession) {
        // Open B first on a known range, then A pointing at B, then point B at A.
        var configuration = MediaSessionConfiguration(localAddress: "127.0.0.1", remoteAddress: "127.0.0.1", remotePort: 9, codec: .pcmu, telephoneEventPayloadType: 101)
        let b = try await MediaSession.open(group: group, configuration: configuration, source: ToneSource(frequency: 1000), sink: WAVFileSink(url: recordB))
        configuration.remotePort = b.localPort
        let a = try await MediaSession.open(group: group, configuration: configuration, source: ToneSource(frequency: 440), sink: WAVFileSink(url: recordA))
        try await b.update(remoteAddress: "127.0.0.1", remotePort: a.localPort, direction: .sendrecv)
        return (a, b)
    }

    @Test func tonesCrossInBothDirectionsAndDigitsArrive() async throws {
        let recordA = temporaryWAV(), recordB = temporaryWAV()
        let (a, b) = try await pair(recordA: recordA, recordB: recordB)
        await a.start()
        await b.start()
        await a.sendDigits("159")
        let digits = b.digits
        let received = try await withTimeout(10, "three DTMF digits") {
            var text = ""
            for await digit in digits {
                text.append(digit)
                if text.count == 3 { break }
            }
            return text
        }
        #expect(received == "159")
        // Let audio flow a little after the digits, then stop both.
        let countersBefore = await b.counters
        try await withTimeout(5, "50 more packets") {
            while await b.counters.packetsReceived < countersBefore.packetsReceived + 50 { await Task.yield(); try await Task.sleep(for: .milliseconds(20)) }
        }
        await a.stop()
        await b.stop()
        let heardByA = played(try WAV.read(recordA)), heardByB = played(try WAV.read(recordB))
        #expect(AudioAnalysis.dominantFrequency(Array(heardByA.suffix(4000))) == 1000)
        #expect(AudioAnalysis.dominantFrequency(Array(heardByB.suffix(4000))) == 440)
        let countersA = await a.counters, countersB = await b.counters
        #expect(countersA.packetsSent > 50 && countersB.packetsReceived > 50)
        #expect(countersB.packetsLost == 0)
        #expect(countersB.unexpectedSource == 0)
    }

    @Test func packetsFromAnUnexpectedSourceAreDroppedAndCounted() async throws {
        let (a, b) = try await pair(recordA: temporaryWAV(), recordB: temporaryWAV())
        await b.start()  // what arrives is handled at b's ticks; a stays silent
        let intruder = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let packet = RTPPacket(payloadType: 0, sequenceNumber: 1, timestamp: 1, ssrc: 99, payload: [UInt8](repeating: 0xFF, count: 160))
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: b.localPort)
        try await intruder.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: packet.serialized())))
        // A malformed packet from the right peer is dropped too.
        try await withTimeout(5, "the intruder's packet to be counted") {
            while await b.counters.unexpectedSource < 1 { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(await b.counters.packetsReceived == 0)
        try await intruder.close()
        await a.stop()
        await b.stop()
    }

    /// An encrypted session takes only what its peer's key protects: a plain RTP packet from the
    /// right address is counted as rejected, a STUN check (a peer's ICE) is dropped without being
    /// taken for forged SRTP, and a packet protected with the peer's key is played.
    @Test func anSRTPSessionTakesOnlyPacketsItsPeersKeyProtects() async throws {
        let peerKey = [UInt8](repeating: 0x5A, count: 30), ourKey = [UInt8](repeating: 0xA5, count: 30)
        let (arrivals, arrived) = AsyncStream.makeStream(of: [UInt8].self)
        let peer = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(arrived: arrived)) } }
            .bind(host: "127.0.0.1", port: 0).get()
        var configuration = MediaSessionConfiguration(localAddress: "127.0.0.1", remoteAddress: "127.0.0.1",
                                                      remotePort: try #require(peer.localAddress?.port), codec: .pcmu, telephoneEventPayloadType: 101)
        configuration.srtp = SRTPKeys(suite: .aesCM128HmacSHA1_80, local: ourKey, remote: peerKey)
        let session = try await MediaSession.open(group: group, configuration: configuration, source: SilenceSource(), sink: NullSink())
        await session.start()
        #expect(await session.encryption == .aesCM128HmacSHA1_80)
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: session.localPort)
        func send(_ bytes: [UInt8]) async throws {
            try await peer.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: bytes)))
        }
        let plain = RTPPacket(payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 77, payload: [UInt8](repeating: 0xFF, count: 160))
        try await send(plain.serialized())
        let stun: [UInt8] = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 7, count: 12)
        try await send(stun)
        let peerContext = try SRTPContext(keys: SRTPKeys(suite: .aesCM128HmacSHA1_80, local: peerKey, remote: ourKey))
        let good = RTPPacket(payloadType: 0, sequenceNumber: 2, timestamp: 320, ssrc: 77, payload: [UInt8](repeating: 0xFF, count: 160))
        try await send(try peerContext.protect(rtp: good.serialized()))
        try await withTimeout(5, "the three packets to be handled") {
            while true {
                let counters = await session.counters
                if counters.packetsReceived >= 1 && counters.packetsDropped >= 2 { return }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        let counters = await session.counters
        #expect(counters.srtpRejected == 1, "the plain packet: \(counters)")
        #expect(counters.packetsDropped == 2, "the plain packet and the STUN check: \(counters)")
        #expect(counters.packetsReceived == 1)
        // What the session sends is SRTP the peer's context takes back.
        let sent = try await withTimeout(5, "a packet from the session") { () async throws -> [UInt8] in
            for await bytes in arrivals { return bytes }
            throw CancellationError()
        }
        #expect(try RTPPacket(parsing: try peerContext.unprotect(rtp: sent)).payloadType == 0)
        await session.stop()
        try await peer.close()
    }

    /// Four sessions (two calls) ticked by one shared clock (a conference room's): each sends and
    /// receives on the clock's ticks, and the clock stops with the last session.
    @Test func sessionsOnASharedClockTickTogetherAndTheClockStopsWithTheLast() async throws {
        let clock = MediaClock(eventLoop: group.next())
        #expect(!clock.isRunning)
        let configuration = MediaSessionConfiguration(localAddress: "127.0.0.1", remoteAddress: "127.0.0.1", remotePort: 9, codec: .pcmu, telephoneEventPayloadType: nil)
        var sessions: [MediaSession] = []
        for frequency in [440.0, 1000, 1600, 2000] {
            sessions.append(try await MediaSession.open(group: group, configuration: configuration, source: ToneSource(frequency: frequency),
                                                        sink: NullSink(), clock: clock))
        }
        // Symmetric RTP: 0 and 1 talk to each other, and 2 and 3.
        for (i, session) in sessions.enumerated() {
            try await session.update(remoteAddress: "127.0.0.1", remotePort: sessions[i ^ 1].localPort, direction: .sendrecv)
            await session.start()
        }
        #expect(clock.isRunning && clock.sessionCount == 4)
        let all = sessions
        try await withTimeout(10, "50 packets at each session") {
            for session in all { while await session.counters.packetsReceived < 50 { try await Task.sleep(for: .milliseconds(20)) } }
        }
        // One tick sends one packet from each session attached: none sent more than the clock ticked.
        for session in sessions {
            let counters = await session.counters
            #expect(counters.packetsSent <= clock.figures.ticks && counters.packetsSent >= 50)
            #expect(counters.packetsLost == 0 && counters.unexpectedSource == 0)
        }
        await sessions[0].stop()
        #expect(clock.isRunning && clock.sessionCount == 3)
        for session in sessions.dropFirst() { await session.stop() }
        #expect(!clock.isRunning && clock.sessionCount == 0)
    }
}

extension MediaSessionTests {
    /// RTP from a raw socket: `count` packets of a `frequency` tone as source `ssrc`, from sequence `first`, 20 ms apart.
    func sendTone(from channel: any Channel, to port: Int, ssrc: UInt32, first: UInt16, count: Int, frequency: Double) async throws {
        var tone = ToneSource(frequency: frequency)
        let codec = MediaSession.codec(for: .pcmu)
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        for n in 0..<count {
            let packet = RTPPacket(payloadType: 0, sequenceNumber: first &+ UInt16(n), timestamp: UInt32(n * 160), ssrc: ssrc, payload: codec.encode(tone.nextFrame()))
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: packet.serialized())))
            try await Task.sleep(for: .milliseconds(20))  // the pace of a real sender, not a wait for anything
        }
    }

    @Test func aNewSourceWithLowerSequenceNumbersIsPlayedNotDroppedAsLate() async throws {
        let heard = temporaryWAV()
        let configuration = MediaSessionConfiguration(localAddress: "127.0.0.1", remoteAddress: "127.0.0.1", remotePort: 9, codec: .pcmu, telephoneEventPayloadType: nil)
        let session = try await MediaSession.open(group: group, configuration: configuration, source: SilenceSource(), sink: WAVFileSink(url: heard))
        let first = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let second = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        try await session.update(remoteAddress: "127.0.0.1", remotePort: first.localAddress?.port ?? 0, direction: .sendrecv)
        await session.start()
        try await sendTone(from: first, to: session.localPort, ssrc: 1, first: 40000, count: 50, frequency: 500)
        // The far end moves (a re-INVITE: music on hold, a transfer) to a source whose numbers are lower.
        try await session.update(remoteAddress: "127.0.0.1", remotePort: second.localAddress?.port ?? 0, direction: .sendrecv)
        try await sendTone(from: second, to: session.localPort, ssrc: 2, first: 100, count: 75, frequency: 1000)
        let counters = await session.counters
        await session.stop()
        try await first.close()
        try await second.close()
        // What was played last: the second source's tone.
        let samples = played(try WAV.read(heard))
        #expect(samples.count >= 4000, "something was heard: \(samples.count) samples")
        #expect(AudioAnalysis.dominantFrequency(Array(samples.suffix(4000))) == 1000, "the second source is heard")
        #expect(counters.packetsReceived >= 110, "both sources counted: \(counters.packetsReceived)")
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

func withTimeout<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TimedOut(what: what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// A recording without the little silence a play-out may end on when its session stops before the
/// buffer is drained (on a loaded machine): what was played.
func played(_ recording: [Int16]) -> [Int16] {
    var samples = recording
    while let last = samples.last, abs(Int(last)) < 200 { samples.removeLast() }
    return samples
}

/// Hands each datagram a test's socket receives to a stream.
private final class Collector: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let arrived: AsyncStream<[UInt8]>.Continuation
    init(arrived: AsyncStream<[UInt8]>.Continuation) { self.arrived = arrived }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arrived.yield(Array(unwrapInboundIn(data).data.readableBytesView))
    }
}
