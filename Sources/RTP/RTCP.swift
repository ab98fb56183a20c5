// RTCP sender and receiver reports, SDES CNAME and BYE (RFC 3550 §6.4, §6.5, §6.6), compound.

public struct ReportBlock: Sendable, Equatable {
    public var ssrc: UInt32
    public var fractionLost: UInt8
    /// 24-bit signed cumulative count.
    public var cumulativeLost: Int32
    public var extendedHighestSequence: UInt32
    public var jitter: UInt32
    public var lastSenderReport: UInt32
    public var delaySinceLastSenderReport: UInt32

    public init(ssrc: UInt32, fractionLost: UInt8, cumulativeLost: Int32, extendedHighestSequence: UInt32, jitter: UInt32,
                lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }
}

public enum RTCPPacket: Sendable, Equatable {
    case senderReport(ssrc: UInt32, ntp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32, reports: [ReportBlock])
    case receiverReport(ssrc: UInt32, reports: [ReportBlock])
    case sourceDescription(ssrc: UInt32, cname: String)
    case bye(ssrc: UInt32)
    case other(type: UInt8)

    /// Serializes a compound packet (the first must be SR or RR, §6.1).
    public static func compound(_ packets: [RTCPPacket]) -> [UInt8] {
        packets.flatMap { $0.serialized() }
    }

    public func serialized() -> [UInt8] {
        var body: [UInt8] = []
        let type: UInt8
        var count = 0
        switch self {
        case .senderReport(let ssrc, let ntp, let rtp, let packets, let octets, let reports):
            type = 200
            count = reports.count
            put32(&body, ssrc); put32(&body, UInt32(ntp >> 32)); put32(&body, UInt32(ntp & 0xFFFF_FFFF))
            put32(&body, rtp); put32(&body, packets); put32(&body, octets)
            for report in reports { Self.put(report, into: &body) }
        case .receiverReport(let ssrc, let reports):
            type = 201
            count = reports.count
            put32(&body, ssrc)
            for report in reports { Self.put(report, into: &body) }
        case .sourceDescription(let ssrc, let cname):
            type = 202
            count = 1
            put32(&body, ssrc)
            let text = Array(cname.utf8.prefix(255))
            body += [1, UInt8(text.count)] + text + [0]
            while body.count % 4 != 0 { body.append(0) }
        case .bye(let ssrc):
            type = 203
            count = 1
            put32(&body, ssrc)
        case .other(let t):
            type = t
        }
        let words = UInt16(body.count / 4)
        return [0x80 | UInt8(count), type, UInt8(words >> 8), UInt8(words & 0xFF)] + body
    }

    /// Parses a compound RTCP packet.
    public static func parseCompound(_ bytes: [UInt8]) throws(RTPError) -> [RTCPPacket] {
        var packets: [RTCPPacket] = []
        var offset = 0
        while offset + 4 <= bytes.count {
            guard bytes[offset] >> 6 == 2 else { throw RTPError("RTCP version is not 2") }
            let count = Int(bytes[offset] & 0x1F)
            let type = bytes[offset + 1]
            let length = (Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])) * 4 + 4
            guard offset + length <= bytes.count else { throw RTPError("RTCP packet length exceeds the datagram") }
            let p = Array(bytes[offset..<(offset + length)])
            switch type {
            case 200:
                guard p.count >= 28 + 24 * count else { throw RTPError("short RTCP SR") }
                let ntp = UInt64(RTPPacket.be32(p, 8)) << 32 | UInt64(RTPPacket.be32(p, 12))
                packets.append(.senderReport(ssrc: RTPPacket.be32(p, 4), ntp: ntp, rtpTimestamp: RTPPacket.be32(p, 16),
                                             packetCount: RTPPacket.be32(p, 20), octetCount: RTPPacket.be32(p, 24),
                                             reports: (0..<count).map { report(p, 28 + 24 * $0) }))
            case 201:
                guard p.count >= 8 + 24 * count else { throw RTPError("short RTCP RR") }
                packets.append(.receiverReport(ssrc: RTPPacket.be32(p, 4), reports: (0..<count).map { report(p, 8 + 24 * $0) }))
            case 202:
                guard p.count >= 10, p[8] == 1 else { packets.append(.other(type: type)); break }
                let length = Int(p[9])
                guard p.count >= 10 + length else { throw RTPError("short RTCP SDES") }
                packets.append(.sourceDescription(ssrc: RTPPacket.be32(p, 4), cname: String(decoding: p[10..<(10 + length)], as: UTF8.self)))
            case 203:
                packets.append(.bye(ssrc: p.count >= 8 ? RTPPacket.be32(p, 4) : 0))
            default:
                packets.append(.other(type: type))
            }
            offset += length
        }
        return packets
    }

    static func put(_ r: ReportBlock, into body: inout [UInt8]) {
        put32(&body, r.ssrc)
        let lost = UInt32(bitPattern: max(-0x80_0000, min(0x7F_FFFF, r.cumulativeLost))) & 0xFF_FFFF
        put32(&body, UInt32(r.fractionLost) << 24 | lost)
        put32(&body, r.extendedHighestSequence)
        put32(&body, r.jitter)
        put32(&body, r.lastSenderReport)
        put32(&body, r.delaySinceLastSenderReport)
    }

    static func report(_ p: [UInt8], _ i: Int) -> ReportBlock {
        let word = RTPPacket.be32(p, i + 4)
        var lost = Int32(bitPattern: word & 0xFF_FFFF)
        if lost & 0x80_0000 != 0 { lost -= 0x100_0000 }  // sign-extend 24 bits
        return ReportBlock(ssrc: RTPPacket.be32(p, i), fractionLost: UInt8(word >> 24), cumulativeLost: lost,
                           extendedHighestSequence: RTPPacket.be32(p, i + 8), jitter: RTPPacket.be32(p, i + 12),
                           lastSenderReport: RTPPacket.be32(p, i + 16), delaySinceLastSenderReport: RTPPacket.be32(p, i + 20))
    }
}

private func put32(_ out: inout [UInt8], _ v: UInt32) { RTPPacket.put32(&out, v) }
