// G.711 against the ITU-T G.191 reference algorithms (transliterated here independently of the
// implementation) for every 16-bit input and every code, plus known values.

import Testing
@testable import Audio

/// ITU-T G.191 STL g711.c, ulaw_compress / ulaw_expand / alaw_compress / alaw_expand, one sample.
enum G191 {
    static func ulawCompress(_ x: Int16) -> UInt8 {
        let lin = Int(x)
        var absno = lin < 0 ? ((~lin) >> 2) + 33 : (lin >> 2) + 33
        if absno > 0x1FFF { absno = 0x1FFF }
        var i = absno >> 6
        var segno = 1
        while i != 0 { segno += 1; i >>= 1 }
        let high = 0x0008 - segno
        var low = (absno >> segno) & 0x000F
        low = 0x000F - low
        var code = (high << 4) | low
        if lin >= 0 { code |= 0x0080 }
        return UInt8(code & 0xFF)
    }

    static func ulawExpand(_ code: UInt8) -> Int16 {
        let log = Int(code)
        let sign = log < 0x80 ? -1 : 1
        var mantissa = ~log
        let exponent = (mantissa >> 4) & 0x0007
        let segment = exponent + 1
        mantissa &= 0x000F
        let step = 4 << segment
        return Int16(sign * ((0x0080 << exponent) + step * mantissa + step / 2 - 4 * 33))
    }

    static func alawCompress(_ x: Int16) -> UInt8 {
        let lin = Int(x)
        var ix = lin < 0 ? (~lin) >> 4 : lin >> 4
        if ix > 15 {
            var iexp = 1
            while ix > 16 + 15 { ix >>= 1; iexp += 1 }
            ix -= 16
            ix += iexp << 4
        }
        if lin >= 0 { ix |= 0x0080 }
        return UInt8((ix ^ 0x0055) & 0xFF)
    }

    static func alawExpand(_ code: UInt8) -> Int16 {
        var ix = Int(code) ^ 0x0055
        ix &= 0x007F
        let iexp = ix >> 4
        var mant = ix & 0x000F
        if iexp > 0 { mant += 16 }
        mant = (mant << 4) + 0x0008
        if iexp > 1 { mant <<= (iexp - 1) }
        return Int16(code > 127 ? mant : -mant)
    }
}

@Suite struct G711Tests {
    @Test func uLawEncodingIsBitExactForEverySample() {
        var mismatches = 0
        for value in Int(Int16.min)...Int(Int16.max) where G711.linearToULaw(Int16(value)) != G191.ulawCompress(Int16(value)) {
            mismatches += 1
        }
        #expect(mismatches == 0)
    }

    @Test func aLawEncodingIsBitExactForEverySample() {
        var mismatches = 0
        for value in Int(Int16.min)...Int(Int16.max) where G711.linearToALaw(Int16(value)) != G191.alawCompress(Int16(value)) {
            mismatches += 1
        }
        #expect(mismatches == 0)
    }

    @Test func decodingIsBitExactForEveryCode() {
        for code in 0...255 {
            #expect(G711.uLawToLinear(UInt8(code)) == G191.ulawExpand(UInt8(code)), "µ-law code \(code)")
            #expect(G711.aLawToLinear(UInt8(code)) == G191.alawExpand(UInt8(code)), "A-law code \(code)")
        }
    }

    @Test func knownValues() {
        #expect(G711.linearToULaw(0) == 0xFF)
        #expect(G711.uLawToLinear(0xFF) == 0)
        #expect(G711.uLawToLinear(0x00) == -32124)
        #expect(G711.uLawToLinear(0x80) == 32124)
        #expect(G711.linearToALaw(0) == 0xD5)
        #expect(G711.aLawToLinear(0xD5) == 8)
        #expect(G711.aLawToLinear(0x55) == -8)
        #expect(G711.aLawToLinear(0xAA) == 32256)
    }

    @Test func codecsRoundTripWithinQuantization() {
        let samples: [Int16] = [0, 100, -100, 1000, -1000, 10000, -10000, 32000, -32000]
        for codec in [PCMU() as any AudioCodec, PCMA()] {
            let decoded = codec.decode(codec.encode(samples))
            for (a, b) in zip(samples, decoded) {
                #expect(abs(Int(a) - Int(b)) <= max(16, abs(Int(a)) / 16), "\(codec.name): \(a) → \(b)")
            }
        }
    }
}
