// WAV files (RIFF): read integer PCM, mu-law or A-law at any rate and channel count into 8 kHz
// mono 16-bit; write 8 kHz mono 16-bit.

import Foundation

public struct WAVError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

public enum WAV {
    public struct Format: Sendable, Equatable {
        public var sampleRate: Int
        public var channels: Int
        public var bitsPerSample: Int
        public var audioFormat: Int
    }

    /// Reads a WAV file as 8 kHz mono 16-bit samples: channels are averaged, other rates resampled
    /// (linear interpolation), 8-bit and 24/32-bit integer PCM and G.711 (the prompts' encoding)
    /// converted. Anything else is a clear error.
    public static func read(_ url: URL) throws(WAVError) -> [Int16] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw WAVError("cannot read \(url.path): \(error.localizedDescription)") }
        return try decode(Array(data), name: url.lastPathComponent)
    }

    public static func decode(_ bytes: [UInt8], name: String = "WAV") throws(WAVError) -> [Int16] {
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw WAVError("\(name) is not a RIFF/WAVE file")
        }
        var format: Format?
        var samples: [Int16]?
        var offset = 12
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
            let size = Int(le32(bytes, offset + 4))
            let body = offset + 8
            let end = min(bytes.count, body + size)
            if id == "fmt " {
                guard size >= 16 else { throw WAVError("\(name) has a short fmt chunk") }
                format = Format(sampleRate: Int(le32(bytes, body + 4)), channels: Int(le16(bytes, body + 2)),
                                bitsPerSample: Int(le16(bytes, body + 14)), audioFormat: Int(le16(bytes, body)))
            } else if id == "data" {
                guard let format else { throw WAVError("\(name): data chunk before fmt chunk") }
                samples = try convert(Array(bytes[body..<end]), format: format, name: name)
            }
            offset = body + size + (size & 1)
        }
        guard let samples else { throw WAVError("\(name) has no data chunk") }
        return samples
    }

    static func convert(_ data: [UInt8], format: Format, name: String) throws(WAVError) -> [Int16] {
        // 6 = A-law, 7 = mu-law (8-bit G.711 samples).
        if format.audioFormat == 6 || format.audioFormat == 7 {
            guard format.bitsPerSample == 8, format.channels >= 1, format.sampleRate >= 1000, format.sampleRate <= 192_000 else {
                throw WAVError("\(name): unsupported G.711 format (\(format.bitsPerSample)-bit, \(format.channels) channels at \(format.sampleRate) Hz)")
            }
            let linear = format.audioFormat == 7 ? PCMU().decode(data) : PCMA().decode(data)
            let frames = linear.count / format.channels
            let mono = format.channels == 1 ? linear : (0..<frames).map { frame in
                Int16(clamping: (0..<format.channels).reduce(0) { $0 + Int(linear[frame * format.channels + $1]) } / format.channels)
            }
            return Resampler.resample(mono, from: format.sampleRate, to: 8000)
        }
        // 1 = PCM; 0xFFFE = WAVE_FORMAT_EXTENSIBLE (assumed PCM sub-format).
        guard format.audioFormat == 1 || format.audioFormat == 0xFFFE else {
            throw WAVError("\(name): unsupported WAV encoding \(format.audioFormat) (only integer PCM, mu-law or A-law)")
        }
        guard [8, 16, 24, 32].contains(format.bitsPerSample) else {
            throw WAVError("\(name): unsupported \(format.bitsPerSample)-bit samples")
        }
        guard format.channels >= 1, format.sampleRate >= 1000, format.sampleRate <= 192_000 else {
            throw WAVError("\(name): unsupported format (\(format.channels) channels at \(format.sampleRate) Hz)")
        }
        let width = format.bitsPerSample / 8
        let frameSize = width * format.channels
        let frames = data.count / frameSize
        var mono = [Int16](repeating: 0, count: frames)
        for frame in 0..<frames {
            var sum = 0
            for channel in 0..<format.channels {
                let at = frame * frameSize + channel * width
                switch width {
                case 1: sum += (Int(data[at]) - 128) << 8
                case 2: sum += Int(Int16(bitPattern: UInt16(data[at]) | UInt16(data[at + 1]) << 8))
                case 3: sum += Int(Int32(bitPattern: UInt32(data[at]) << 8 | UInt32(data[at + 1]) << 16 | UInt32(data[at + 2]) << 24) >> 16)
                default: sum += Int(Int32(bitPattern: le32(data, at)) >> 16)
                }
            }
            mono[frame] = Int16(clamping: sum / format.channels)
        }
        return Resampler.resample(mono, from: format.sampleRate, to: 8000)
    }

    /// Writes 8 kHz mono 16-bit PCM.
    public static func encode(_ samples: [Int16], sampleRate: Int = 8000) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(44 + samples.count * 2)
        func put32(_ v: UInt32) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        func put16(_ v: UInt16) { out += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        out += Array("RIFF".utf8); put32(UInt32(36 + samples.count * 2)); out += Array("WAVE".utf8)
        out += Array("fmt ".utf8); put32(16); put16(1); put16(1); put32(UInt32(sampleRate)); put32(UInt32(sampleRate * 2)); put16(2); put16(16)
        out += Array("data".utf8); put32(UInt32(samples.count * 2))
        for sample in samples { put16(UInt16(bitPattern: sample)) }
        return out
    }

    public static func write(_ samples: [Int16], to url: URL) throws(WAVError) {
        do { try Data(encode(samples)).write(to: url) } catch { throw WAVError("cannot write \(url.path): \(error.localizedDescription)") }
    }

    static func le16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    static func le32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}

public enum Resampler {
    /// Linear-interpolation resampling (adequate for telephony band audio from file prompts).
    public static func resample(_ samples: [Int16], from source: Int, to target: Int) -> [Int16] {
        guard source != target, !samples.isEmpty else { return samples }
        let count = Int((Double(samples.count) * Double(target) / Double(source)).rounded(.down))
        let step = Double(source) / Double(target)
        return (0..<count).map { i in
            let position = Double(i) * step
            let index = Int(position)
            let fraction = position - Double(index)
            let a = Double(samples[min(index, samples.count - 1)])
            let b = Double(samples[min(index + 1, samples.count - 1)])
            return Int16(clamping: Int((a + (b - a) * fraction).rounded()))
        }
    }
}
