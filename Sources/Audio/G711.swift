// G.711 µ-law and A-law (ITU-T G.711, with the segment/quantization rules of its reference
// implementation in ITU-T G.191), and the codec protocol other codecs (Opus) will join.

/// An audio codec at 8 kHz: 16-bit linear PCM in, payload bytes out, and back.
public protocol AudioCodec: Sendable {
    var name: String { get }
    var payloadType: Int { get }
    var clockRate: Int { get }
    func encode(_ samples: [Int16]) -> [UInt8]
    func decode(_ payload: [UInt8]) -> [Int16]
}

public struct PCMU: AudioCodec {
    public init() {}
    public var name: String { "PCMU" }
    public var payloadType: Int { 0 }
    public var clockRate: Int { 8000 }
    public func encode(_ samples: [Int16]) -> [UInt8] { samples.map(G711.linearToULaw) }
    public func decode(_ payload: [UInt8]) -> [Int16] { payload.map { G711.uLawTable[Int($0)] } }
}

public struct PCMA: AudioCodec {
    public init() {}
    public var name: String { "PCMA" }
    public var payloadType: Int { 8 }
    public var clockRate: Int { 8000 }
    public func encode(_ samples: [Int16]) -> [UInt8] { samples.map(G711.linearToALaw) }
    public func decode(_ payload: [UInt8]) -> [Int16] { payload.map { G711.aLawTable[Int($0)] } }
}

public enum G711 {
    /// µ-law encoding of a 16-bit sample (G.711 §3, bias 0x84, clip 32635; negative values
    /// take the one's complement, as the G.191 reference does).
    public static func linearToULaw(_ sample: Int16) -> UInt8 {
        let bias = 0x84
        let clip = 32635
        var value = Int(sample)
        let sign = value < 0 ? 0x80 : 0
        if value < 0 { value = ~value }
        if value > clip { value = clip }
        value += bias
        var exponent = 7
        var mask = 0x4000
        while exponent > 0, value & mask == 0 {
            exponent -= 1
            mask >>= 1
        }
        let mantissa = (value >> (exponent + 3)) & 0x0F
        return UInt8(~(sign | (exponent << 4) | mantissa) & 0xFF)
    }

    public static func uLawToLinear(_ code: UInt8) -> Int16 {
        let value = Int(~code & 0xFF)
        let sign = value & 0x80
        let exponent = (value >> 4) & 0x07
        let mantissa = value & 0x0F
        let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        return Int16(sign != 0 ? -magnitude : magnitude)
    }

    /// A-law encoding of a 16-bit sample (G.711 §2; even bits inverted, 0x55).
    public static func linearToALaw(_ sample: Int16) -> UInt8 {
        var value = Int(sample) >> 3  // 13-bit magnitude domain
        var mask: Int
        if value >= 0 {
            mask = 0xD5
        } else {
            mask = 0x55
            value = -value - 1
        }
        let segmentEnds = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]
        var segment = 0
        while segment < 8, value > segmentEnds[segment] { segment += 1 }
        if segment >= 8 { return UInt8(0x7F ^ mask) }
        var code = segment << 4
        code |= segment < 2 ? (value >> 1) & 0x0F : (value >> segment) & 0x0F
        mask &= 0xFF
        return UInt8((code ^ mask) & 0xFF)
    }

    public static func aLawToLinear(_ code: UInt8) -> Int16 {
        let value = Int(code ^ 0x55)
        var magnitude = (value & 0x0F) << 4
        let segment = (value & 0x70) >> 4
        switch segment {
        case 0: magnitude += 8
        case 1: magnitude += 0x108
        default: magnitude = (magnitude + 0x108) << (segment - 1)
        }
        return Int16(value & 0x80 != 0 ? magnitude : -magnitude)
    }

    static let uLawTable: [Int16] = (0...255).map { uLawToLinear(UInt8($0)) }
    static let aLawTable: [Int16] = (0...255).map { aLawToLinear(UInt8($0)) }
}
