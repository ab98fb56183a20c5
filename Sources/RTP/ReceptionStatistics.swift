// Per-source reception statistics (RFC 3550 §6.4.1, Appendix A.1, A.3, A.8): extended sequence
// numbers, expected and lost packets, interarrival jitter, fraction lost for RTCP reports.

public struct ReceptionStatistics: Sendable, Equatable {
    public private(set) var ssrc: UInt32?
    public private(set) var packetsReceived: UInt64 = 0
    public private(set) var duplicates: UInt64 = 0
    private var baseSequence: UInt32 = 0
    private var maxSequence: UInt16 = 0
    private var cycles: UInt32 = 0
    private var badSequence: UInt32 = 0x1_0000 + 1
    private var probation = 0
    /// Interarrival jitter in timestamp units (§A.8), scaled by 16 internally.
    private var jitterQ4: Int64 = 0
    private var lastTransit: Int64?
    private var expectedPrior: UInt32 = 0
    private var receivedPrior: UInt64 = 0
    private var initialized = false

    public init() {}

    static let maxDropout: UInt16 = 3000
    static let maxMisorder: UInt16 = 100

    /// Records a packet; `arrival` is the arrival time in timestamp units (8 kHz: samples).
    /// Returns false for a packet the statistics reject (a duplicate or a big jump in sequence).
    @discardableResult
    public mutating func record(_ packet: RTPPacket, arrival: Int64) -> Bool {
        let seq = packet.sequenceNumber
        if !initialized {
            initialized = true
            ssrc = packet.ssrc
            baseSequence = UInt32(seq)
            maxSequence = seq
            badSequence = 0x1_0000 + 1
        } else {
            let delta = seq &- maxSequence
            if delta == 0 {
                duplicates += 1
                return false
            } else if delta < Self.maxDropout {
                if seq < maxSequence { cycles &+= 0x1_0000 }  // wrapped
                maxSequence = seq
            } else if delta <= UInt16.max &- Self.maxMisorder {
                // A very large jump: accept after two sequential packets (§A.1 restart logic).
                if UInt32(seq) == badSequence {
                    baseSequence = UInt32(seq)
                    maxSequence = seq
                    cycles = 0
                    badSequence = 0x1_0000 + 1
                } else {
                    badSequence = UInt32(seq &+ 1)
                    return false
                }
            }
            // else: a late (reordered) packet within the misorder window; counted, no max update.
        }
        packetsReceived += 1
        // §A.8: J += (|D| - J) / 16
        let transit = arrival - Int64(packet.timestamp)
        if let last = lastTransit {
            // The integer form of §A.8, with the estimate kept scaled by 16.
            let d = abs(transit - last)
            jitterQ4 += d - ((jitterQ4 + 8) >> 4)
        }
        lastTransit = transit
        return true
    }

    public var extendedHighestSequence: UInt32 { cycles &+ UInt32(maxSequence) }

    public var expected: UInt64 { initialized ? UInt64(extendedHighestSequence &- baseSequence) + 1 : 0 }

    /// Packets lost (expected minus received, never negative here; duplicates are not counted twice).
    public var cumulativeLost: Int64 { max(0, Int64(expected) - Int64(packetsReceived)) }

    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32 { UInt32(max(0, jitterQ4) >> 4) }

    /// Fraction lost since the previous call, as the 8-bit fixed-point value of §6.4.1; resets the interval.
    public mutating func takeFractionLost() -> UInt8 {
        let expectedNow = UInt32(truncatingIfNeeded: expected)
        let expectedInterval = expectedNow &- expectedPrior
        expectedPrior = expectedNow
        let receivedInterval = packetsReceived - receivedPrior
        receivedPrior = packetsReceived
        let lostInterval = Int64(expectedInterval) - Int64(receivedInterval)
        guard expectedInterval > 0, lostInterval > 0 else { return 0 }
        return UInt8(min(255, (lostInterval << 8) / Int64(expectedInterval)))
    }
}
