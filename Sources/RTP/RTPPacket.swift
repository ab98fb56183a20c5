// RTP packets (RFC 3550 §5.1): parse with validation, serialize.

public struct RTPError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

public struct RTPPacket: Sendable, Equatable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcs: [UInt32] = []
    public var payload: [UInt8]

    public init(marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32, payload: [UInt8]) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
    }

    /// Parses and validates (§A.1): version 2, length covers header, CSRCs, extension and padding.
    public init(parsing bytes: some RandomAccessCollection<UInt8>) throws(RTPError) {
        let b = Array(bytes)
        guard b.count >= 12 else { throw RTPError("RTP packet of \(b.count) bytes is shorter than the 12-byte header") }
        guard b[0] >> 6 == 2 else { throw RTPError("RTP version \(b[0] >> 6) is not 2") }
        let padding = b[0] & 0x20 != 0
        let hasExtension = b[0] & 0x10 != 0
        let csrcCount = Int(b[0] & 0x0F)
        marker = b[1] & 0x80 != 0
        payloadType = b[1] & 0x7F
        // RTCP packet types 200–204 land here as PT 72–76 with the marker set (RFC 5761 §4).
        guard !(72...76).contains(payloadType) else { throw RTPError("an RTCP packet on the RTP port") }
        sequenceNumber = UInt16(b[2]) << 8 | UInt16(b[3])
        timestamp = RTPPacket.be32(b, 4)
        ssrc = RTPPacket.be32(b, 8)
        var offset = 12
        guard b.count >= offset + 4 * csrcCount else { throw RTPError("RTP packet too short for its \(csrcCount) CSRCs") }
        csrcs = (0..<csrcCount).map { RTPPacket.be32(b, 12 + 4 * $0) }
        offset += 4 * csrcCount
        if hasExtension {
            guard b.count >= offset + 4 else { throw RTPError("RTP header extension truncated") }
            let words = Int(UInt16(b[offset + 2]) << 8 | UInt16(b[offset + 3]))
            offset += 4 + 4 * words
            guard b.count >= offset else { throw RTPError("RTP header extension longer than the packet") }
        }
        var end = b.count
        if padding {
            let pad = Int(b[b.count - 1])
            guard pad >= 1, end - pad >= offset else { throw RTPError("RTP padding count \(pad) is invalid") }
            end -= pad
        }
        payload = Array(b[offset..<end])
    }

    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(12 + 4 * csrcs.count + payload.count)
        out.append(0x80 | UInt8(csrcs.count & 0x0F))
        out.append((marker ? 0x80 : 0) | (payloadType & 0x7F))
        out.append(UInt8(sequenceNumber >> 8)); out.append(UInt8(sequenceNumber & 0xFF))
        RTPPacket.put32(&out, timestamp)
        RTPPacket.put32(&out, ssrc)
        for csrc in csrcs { RTPPacket.put32(&out, csrc) }
        out += payload
        return out
    }

    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func put32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }
}

/// Sequence numbers and timestamps for an outgoing stream (§5.1): random starts, 20 ms steps.
public struct RTPSequencer: Sendable {
    public let ssrc: UInt32
    public var payloadType: UInt8
    public private(set) var sequenceNumber: UInt16
    public private(set) var timestamp: UInt32
    public private(set) var packetsSent: UInt32 = 0
    public private(set) var octetsSent: UInt32 = 0
    private var first = true

    public init<G: RandomNumberGenerator>(payloadType: UInt8, using generator: inout G) {
        ssrc = UInt32.random(in: 1...UInt32.max, using: &generator)
        sequenceNumber = UInt16.random(in: 0...UInt16.max, using: &generator)
        timestamp = UInt32.random(in: 0...UInt32.max, using: &generator)
        self.payloadType = payloadType
    }

    /// The next packet carrying `payload`, covering `samples` sampling periods. The marker is set
    /// on the first packet of the stream and after silence (`marker: true`).
    public mutating func next(payload: [UInt8], samples: UInt32, marker: Bool = false, payloadType: UInt8? = nil) -> RTPPacket {
        let packet = RTPPacket(marker: marker || first, payloadType: payloadType ?? self.payloadType,
                               sequenceNumber: sequenceNumber, timestamp: timestamp, ssrc: ssrc, payload: payload)
        first = false
        sequenceNumber &+= 1
        timestamp &+= samples
        packetsSent &+= 1
        octetsSent &+= UInt32(payload.count)
        return packet
    }

    /// A packet that shares the current media timestamp without advancing it (DTMF events,
    /// RFC 4733 §2.5.1.2: all packets of one event carry the event's start timestamp).
    public mutating func nextEvent(payload: [UInt8], payloadType: UInt8, timestamp eventTimestamp: UInt32, marker: Bool) -> RTPPacket {
        let packet = RTPPacket(marker: marker, payloadType: payloadType, sequenceNumber: sequenceNumber,
                               timestamp: eventTimestamp, ssrc: ssrc, payload: payload)
        sequenceNumber &+= 1
        packetsSent &+= 1
        octetsSent &+= UInt32(payload.count)
        return packet
    }

    /// Moves the media clock on without sending (while the event occupies the stream).
    public mutating func advance(samples: UInt32) { timestamp &+= samples }
}
