// One RTP audio stream on a UDP socket: a drift-free 20 ms clock, symmetric RTP (RFC 4961),
// RTCP reports, RFC 4733 DTMF both ways, a jitter buffer before play-out, mute and volume. Each
// tick (of a MediaClock on the sockets' event loop, which is the actor's executor) handles what arrived
// since the last one, sends one packet and plays one frame: one wake-up per 20 ms and none per
// packet (writes are not awaited; arrivals wait in a queue). Sessions that share a MediaClock (a
// conference room's) are ticked by it, one wake-up per 20 ms for all of them; any other session
// has a clock of its own.

import Audio
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RTP
import SDP
import SRTP

/// The counters a stream exposes (the phone shows them; tools print them).
public struct MediaCounters: Sendable, Equatable, Codable {
    public var packetsSent = 0
    public var packetsReceived = 0
    public var packetsLost = 0
    public var packetsLate = 0
    /// Interarrival jitter in milliseconds.
    public var jitterMs = 0.0
    /// Packets dropped: bad version or length, wrong payload type, or from an unexpected source.
    public var packetsDropped = 0
    public var unexpectedSource = 0
    public var concealedFrames = 0
    public var rtcpSent = 0
    public var rtcpReceived = 0
    /// SRTP packets that failed authentication or the replay check (also in packetsDropped).
    public var srtpRejected = 0
    /// The same for RTCP: SRTCP that fails, or RTCP sent in clear on an encrypted stream (some
    /// peers send a keep-alive or a BYE so), dropped unread.
    public var srtcpRejected = 0
    public init() {}
}

public struct MediaSessionConfiguration: Sendable {
    public var localAddress: String
    public var remoteAddress: String
    public var remotePort: Int
    public var codec: PayloadFormat
    public var telephoneEventPayloadType: Int?
    public var direction: MediaDirection = .sendrecv
    public var rtcpInterval: Duration = .seconds(5)
    /// SRTP keys (SDES); nil sends and takes plain RTP.
    public var srtp: SRTPKeys?

    public init(localAddress: String, remoteAddress: String, remotePort: Int, codec: PayloadFormat, telephoneEventPayloadType: Int?) {
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.codec = codec
        self.telephoneEventPayloadType = telephoneEventPayloadType
    }

    public init(local: String, negotiated: NegotiatedAudio) {
        self.init(localAddress: local, remoteAddress: negotiated.remoteAddress, remotePort: negotiated.remotePort,
                  codec: negotiated.codec, telephoneEventPayloadType: negotiated.telephoneEventPayloadType)
        direction = negotiated.direction
        srtp = negotiated.srtp
    }
}

public actor MediaSession {
    public nonisolated let localPort: Int
    /// Digits received as RFC 4733 events (and, through `receivedINFO`, as SIP INFO).
    public private(set) var digitsReceived = ""
    public private(set) var counters = MediaCounters()
    public nonisolated let digits: AsyncStream<Character>

    private let rtpChannel: any Channel
    private let rtcpChannel: (any Channel)?
    private var configuration: MediaSessionConfiguration
    private var remote: SocketAddress
    private var remoteRTCP: SocketAddress
    private var codec: any AudioCodec
    /// The SRTP transform while the stream is encrypted.
    private var srtp: SRTPContext?
    private var source: any AudioSource
    private var sink: any AudioSink
    private var sequencer: RTPSequencer
    private var statistics = ReceptionStatistics()
    /// Received and lost before the current source began (a new SSRC restarts the statistics).
    private var earlierReceived = 0, earlierLost = 0
    private var jitterBuffer = JitterBuffer()
    private var dtmfSender = DTMFSender()
    private var dtmfReceiver = DTMFReceiver()
    private var eventTimestamp: UInt32 = 0
    private var muted = false
    private var volume = 1.0
    private var clockStart: NIODeadline?
    /// The event loop of the RTP and RTCP sockets, and this actor's executor.
    private nonisolated let eventLoop: any EventLoop
    public nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }
    /// What arrived since the last tick; taken at each tick.
    private let inbound: InboundQueue
    private let digitContinuation: AsyncStream<Character>.Continuation
    private let startInstant = ContinuousClock.now
    private var ticks = 0
    private var recorder: WAVStreamWriter?
    /// The clock that ticks this session: a conference room's, shared with the others in it, or
    /// one of the session's own.
    private let clock: MediaClock

    /// Opens the RTP (and RTCP, port + 1) sockets on a free even port from `ports`. With `clock`,
    /// the sockets are on the clock's event loop and the clock ticks the session with the others
    /// on it; without, the session has a 20 ms timer of its own.
    public static func open(
        group: any EventLoopGroup, configuration: MediaSessionConfiguration, ports: ClosedRange<Int> = 40000...49999,
        source: any AudioSource, sink: any AudioSink, clock: MediaClock? = nil
    ) async throws -> MediaSession {
        let inbound = InboundQueue()
        let (rtp, rtcp) = try await RTPPortAllocator.bind(group: clock?.eventLoop ?? group, host: configuration.localAddress, ports: ports, queue: inbound)
        return try MediaSession(rtp: rtp, rtcp: rtcp, inbound: inbound, configuration: configuration, source: source, sink: sink, clock: clock)
    }

    init(rtp: any Channel, rtcp: (any Channel)?, inbound: InboundQueue, configuration: MediaSessionConfiguration,
         source: any AudioSource, sink: any AudioSink, clock: MediaClock? = nil) throws {
        self.inbound = inbound
        self.clock = clock ?? MediaClock(eventLoop: rtp.eventLoop)
        eventLoop = rtp.eventLoop
        rtpChannel = rtp
        rtcpChannel = rtcp
        localPort = rtp.localAddress?.port ?? 0
        self.configuration = configuration
        remote = try SocketAddress(ipAddress: configuration.remoteAddress, port: configuration.remotePort)
        remoteRTCP = try SocketAddress(ipAddress: configuration.remoteAddress, port: configuration.remotePort + 1)
        codec = MediaSession.codec(for: configuration.codec)
        srtp = try configuration.srtp.map { keys throws(SRTPError) in try SRTPContext(keys: keys) }
        self.source = source
        self.sink = sink
        var generator = SystemRandomNumberGenerator()
        sequencer = RTPSequencer(payloadType: UInt8(configuration.codec.payloadType), using: &generator)
        (digits, digitContinuation) = AsyncStream.makeStream(of: Character.self)
    }

    /// Starts the 20 ms clock: each tick sends one packet (audio or DTMF event) and plays one frame.
    /// The ticks are timers of the sockets' event loop, which is also this actor's executor: a tick,
    /// the packets it handles and the one it sends all stay on one thread.
    public func start() {
        guard clockStart == nil else { return }
        let start = NIODeadline.now()
        clockStart = start
        clock.attach(self)
    }

    /// A tick of its clock (on this session's event loop).
    func clockTick() {
        guard clockStart != nil else { return }
        tick(ticks + 1)
    }

    public func stop() async {
        if clockStart != nil { clock.detach(self) }
        clockStart = nil
        takeInbound()
        if let digit = dtmfReceiver.flush() { record(digit.character) }
        send(rtcp: [.bye(ssrc: sequencer.ssrc)])
        try? await rtpChannel.close()
        try? await rtcpChannel?.close()
        digitContinuation.finish()
        try? sink.finish()
        try? recorder?.close()
        recorder = nil
    }

    public func setMuted(_ value: Bool) { muted = value }
    public func setVolume(_ level: Double) { volume = max(0, min(2, level)) }
    public func sendDigits(_ digits: String) { dtmfSender.enqueue(digits) }
    public var isSendingDigits: Bool { !dtmfSender.isIdle }

    /// A re-offer that moves the remote address or changes the direction (hold/resume).
    public func update(remoteAddress: String, remotePort: Int, direction: MediaDirection) throws {
        remote = try SocketAddress(ipAddress: remoteAddress, port: remotePort)
        remoteRTCP = try SocketAddress(ipAddress: remoteAddress, port: remotePort + 1)
        configuration.remoteAddress = remoteAddress
        configuration.remotePort = remotePort
        configuration.direction = direction
    }

    /// Applies a (re)negotiation: the remote address, codec, DTMF payload type and direction.
    public func update(_ negotiated: NegotiatedAudio) throws {
        try update(remoteAddress: negotiated.remoteAddress, remotePort: negotiated.remotePort, direction: negotiated.direction)
        configuration.telephoneEventPayloadType = negotiated.telephoneEventPayloadType
        if negotiated.srtp != configuration.srtp {
            // New keys (or none) from a re-negotiation: a new transform; the same keys keep the
            // replay state and rollover counter.
            srtp = try negotiated.srtp.map { keys throws(SRTPError) in try SRTPContext(keys: keys) }
            configuration.srtp = negotiated.srtp
        }
        if negotiated.codec != configuration.codec {
            configuration.codec = negotiated.codec
            codec = MediaSession.codec(for: negotiated.codec)
            sequencer.payloadType = UInt8(negotiated.codec.payloadType)
        }
    }

    static func codec(for format: PayloadFormat) -> any AudioCodec {
        format.name.uppercased() == "PCMA" ? PCMA() : PCMU()
    }

    public var codecName: String { configuration.codec.name }

    /// The SRTP suite in use, or nil for plain RTP.
    public var encryption: SRTPSuite? { configuration.srtp?.suite }

    /// Whether the far end agreed to RFC 4733 events (a `telephone-event` format in its answer).
    public var sendsTelephoneEvents: Bool { configuration.telephoneEventPayloadType != nil }

    // MARK: - Recording

    public var isRecording: Bool { recorder != nil }

    /// Starts writing the call to a WAV file at `url` (mode 0600): what is sent and what is heard,
    /// mixed, one frame per 20 ms tick.
    public func startRecording(to url: URL) throws(WAVError) {
        guard recorder == nil else { return }
        recorder = try WAVStreamWriter(url: url)
    }

    /// Stops recording and completes the file; the samples written, or nil if none was running.
    @discardableResult
    public func stopRecording() throws(WAVError) -> Int? {
        guard let recorder else { return nil }
        self.recorder = nil
        try recorder.close()
        return recorder.sampleCount
    }

    private func record(sent: [Int16], heard: [Int16], to recorder: WAVStreamWriter) {
        var mixed = [Int16](repeating: 0, count: samplesPerFrame)
        for i in 0..<samplesPerFrame {
            mixed[i] = Int16(clamping: Int32(i < sent.count ? sent[i] : 0) + Int32(i < heard.count ? heard[i] : 0))
        }
        do {
            try recorder.append(mixed)
        } catch {
            // A full disk ends the recording, not the call; what was written is kept.
            self.recorder = nil
            try? recorder.close()
        }
    }

    /// A digit that arrived by SIP INFO (application/dtmf-relay).
    public func receivedINFO(_ relay: DTMFRelay) { record(relay.signal) }

    // MARK: - Clock

    private func tick(_ n: Int) {
        ticks = n
        takeInbound()
        let frame = source.nextFrame()
        let sending = configuration.direction.sends
        if sending {
            if let eventPT = configuration.telephoneEventPayloadType, let event = dtmfSender.tick() {
                if event.isNewEvent { eventTimestamp = sequencer.timestamp }
                let packet = sequencer.nextEvent(payload: event.event.payload, payloadType: UInt8(eventPT), timestamp: eventTimestamp, marker: event.marker)
                sequencer.advance(samples: 160)
                send(packet)
            } else {
                let samples = muted ? Gain.mute(frame) : frame
                send(sequencer.next(payload: codec.encode(samples), samples: 160))
            }
        }
        // Play-out.
        let played = jitterBuffer.get()
        counters.concealedFrames = jitterBuffer.statistics.concealed
        sink.write(Gain.apply(volume, to: played))
        if let recorder { record(sent: sending && !muted ? frame : Gain.mute(frame), heard: played, to: recorder) }
        if n % Int(configuration.rtcpInterval / .milliseconds(20)) == 0 { sendReport() }
    }

    /// Written without waiting for the write to complete (no task wake-up per packet); a send error
    /// (ICMP port unreachable while the peer is not up yet) is not fatal.
    private func send(_ packet: RTPPacket) {
        var bytes = packet.serialized()
        if let srtp {
            guard let protected = try? srtp.protect(rtp: bytes) else { return }
            bytes = protected
        }
        let buffer = rtpChannel.allocator.buffer(bytes: bytes)
        rtpChannel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
        counters.packetsSent += 1
    }

    private func send(rtcp packets: [RTCPPacket]) {
        guard let rtcpChannel else { return }
        var bytes = RTCPPacket.compound(packets)
        if let srtp {
            guard let protected = try? srtp.protect(rtcp: bytes) else { return }
            bytes = protected
        }
        let buffer = rtcpChannel.allocator.buffer(bytes: bytes)
        rtcpChannel.writeAndFlush(AddressedEnvelope(remoteAddress: remoteRTCP, data: buffer), promise: nil)
        counters.rtcpSent += 1
    }

    private func sendReport() {
        var reports: [ReportBlock] = []
        if let ssrc = statistics.ssrc {
            reports.append(ReportBlock(ssrc: ssrc, fractionLost: statistics.takeFractionLost(),
                                       cumulativeLost: Int32(clamping: statistics.cumulativeLost),
                                       extendedHighestSequence: statistics.extendedHighestSequence, jitter: statistics.jitter))
        }
        let seconds = Date().timeIntervalSince1970 + 2_208_988_800  // NTP epoch
        let ntp = UInt64(seconds) << 32 | UInt64((seconds - seconds.rounded(.down)) * 4_294_967_296)
        let report: RTCPPacket = sequencer.packetsSent > 0
            ? .senderReport(ssrc: sequencer.ssrc, ntp: ntp, rtpTimestamp: sequencer.timestamp, packetCount: sequencer.packetsSent, octetCount: sequencer.octetsSent, reports: reports)
            : .receiverReport(ssrc: sequencer.ssrc, reports: reports)
        send(rtcp: [report, .sourceDescription(ssrc: sequencer.ssrc, cname: "holdfast@\(configuration.localAddress)")])
    }

    // MARK: - Receiving

    /// Handles everything that arrived since the last tick, in arrival order.
    private func takeInbound() {
        for item in inbound.drain() { received(item.envelope, isRTCP: item.isRTCP, at: item.arrival) }
    }

    private func received(_ envelope: AddressedEnvelope<ByteBuffer>, isRTCP: Bool, at instant: ContinuousClock.Instant) {
        // Symmetric RTP: only the negotiated peer's address and port are accepted.
        let expected = isRTCP ? remoteRTCP : remote
        guard envelope.remoteAddress == expected else {
            counters.unexpectedSource += 1
            counters.packetsDropped += 1
            return
        }
        var bytes = Array(envelope.data.readableBytesView)
        // RFC 7983: a first byte outside 128–191 is not RTP or RTCP (0–3 is STUN, such as a
        // peer's ICE checks; 20–63 DTLS). Dropped before SRTP, which would count it as forged.
        guard let first = bytes.first, (128...191).contains(first) else {
            counters.packetsDropped += 1
            return
        }
        if let srtp {
            do {
                bytes = isRTCP ? try srtp.unprotect(rtcp: bytes) : try srtp.unprotect(rtp: bytes)
            } catch {
                if isRTCP { counters.srtcpRejected += 1 } else { counters.srtpRejected += 1 }
                counters.packetsDropped += 1
                return
            }
        }
        if isRTCP {
            if (try? RTCPPacket.parseCompound(bytes)) != nil { counters.rtcpReceived += 1 } else { counters.packetsDropped += 1 }
            return
        }
        guard let packet = try? RTPPacket(parsing: bytes) else {
            counters.packetsDropped += 1
            return
        }
        let arrival = Int64((instant - startInstant) / .microseconds(125))  // 8 kHz units
        if Int(packet.payloadType) == configuration.telephoneEventPayloadType {
            statistics.record(packet, arrival: arrival)
            for digit in dtmfReceiver.receive(packet) { record(digit.character) }
        } else if Int(packet.payloadType) == configuration.codec.payloadType {
            // RFC 3550 §8.2: another SSRC is another source (the far end moved: music on hold,
            // a transfer re-joining the call). Its sequence numbers start anywhere, so the
            // statistics and the jitter buffer start again rather than take it for late packets.
            if let current = statistics.ssrc, current != packet.ssrc { restartReception() }
            guard statistics.record(packet, arrival: arrival) else { return }
            jitterBuffer.put(sequence: packet.sequenceNumber, frame: codec.decode(packet.payload), jitter: statistics.jitter)
        } else {
            counters.packetsDropped += 1
            return
        }
        counters.packetsReceived = earlierReceived + Int(statistics.packetsReceived)
        counters.packetsLost = earlierLost + Int(statistics.cumulativeLost)
        counters.packetsLate = jitterBuffer.statistics.late
        counters.jitterMs = Double(statistics.jitter) / 8
    }

    private func restartReception() {
        earlierReceived += Int(statistics.packetsReceived)
        earlierLost += Int(statistics.cumulativeLost)
        statistics = ReceptionStatistics()
        jitterBuffer = JitterBuffer()
    }

    private func record(_ digit: Character) {
        digitsReceived.append(digit)
        digitContinuation.yield(digit)
    }
}
