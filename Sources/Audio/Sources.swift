// Audio sources and sinks in 20 ms frames of 8 kHz mono 16-bit: files, tones, silence, null;
// mute and speaker volume. A device backend (PulseAudio) plugs in behind the same protocols.

import Foundation

/// 20 ms at 8 kHz.
public let samplesPerFrame = 160

public protocol AudioSource: Sendable {
    /// The next 20 ms frame (160 samples).
    mutating func nextFrame() -> [Int16]
}

public protocol AudioSink: Sendable {
    mutating func write(_ frame: [Int16])
    /// Called once at the end (a file sink writes its file here).
    mutating func finish() throws
}

public struct SilenceSource: AudioSource {
    public init() {}
    public mutating func nextFrame() -> [Int16] { [Int16](repeating: 0, count: samplesPerFrame) }
}

/// A sine tone, phase-continuous across frames.
public struct ToneSource: AudioSource {
    public let frequency: Double
    public let amplitude: Double
    private var phase: Double = 0

    public init(frequency: Double, amplitude: Double = 8000) {
        self.frequency = frequency
        self.amplitude = amplitude
    }

    public mutating func nextFrame() -> [Int16] {
        let increment = 2 * Double.pi * frequency / 8000
        var frame = [Int16](repeating: 0, count: samplesPerFrame)
        for i in 0..<samplesPerFrame {
            frame[i] = Int16(clamping: Int((sin(phase) * amplitude).rounded()))
            phase += increment
            if phase > 2 * Double.pi { phase -= 2 * Double.pi }
        }
        return frame
    }
}

/// Plays samples (a WAV prompt) in a loop.
public struct LoopingSource: AudioSource {
    private let samples: [Int16]
    private var position = 0

    public init(samples: [Int16]) { self.samples = samples.isEmpty ? [0] : samples }

    public mutating func nextFrame() -> [Int16] {
        var frame = [Int16](repeating: 0, count: samplesPerFrame)
        for i in 0..<samplesPerFrame {
            frame[i] = samples[position]
            position = (position + 1) % samples.count
        }
        return frame
    }
}

/// Plays samples once, then silence.
public struct OnceSource: AudioSource {
    private let samples: [Int16]
    private var position = 0

    public init(samples: [Int16]) { self.samples = samples }

    public mutating func nextFrame() -> [Int16] {
        var frame = [Int16](repeating: 0, count: samplesPerFrame)
        let count = min(samplesPerFrame, max(0, samples.count - position))
        if count > 0 { frame.replaceSubrange(0..<count, with: samples[position..<position + count]) }
        position += count
        return frame
    }
}

public struct NullSink: AudioSink {
    public init() {}
    public mutating func write(_ frame: [Int16]) {}
    public mutating func finish() throws {}
}

/// Collects everything played and writes it as a WAV file at the end.
public struct WAVFileSink: AudioSink {
    public let url: URL
    public private(set) var samples: [Int16] = []

    public init(url: URL) { self.url = url }

    public mutating func write(_ frame: [Int16]) { samples += frame }
    public mutating func finish() throws { try WAV.write(samples, to: url) }
}

/// Mute (the stream keeps flowing, carrying silence) and speaker volume (gain on play-out).
public enum Gain {
    /// Scales samples by `level` (0 = silent, 1 = unchanged, up to 2), saturating.
    public static func apply(_ level: Double, to frame: [Int16]) -> [Int16] {
        if level == 1 { return frame }
        return frame.map { Int16(clamping: Int((Double($0) * level).rounded())) }
    }

    public static func mute(_ frame: [Int16]) -> [Int16] { [Int16](repeating: 0, count: frame.count) }
}

/// Audio analysis used by tests and tools: RMS level and the dominant frequency (Goertzel scan).
public enum AudioAnalysis {
    public static func rms(_ samples: [Int16]) -> Double {
        guard !samples.isEmpty else { return 0 }
        return (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot()
    }

    /// Power at `frequency` (Goertzel algorithm), at 8 kHz.
    public static func power(_ samples: [Int16], at frequency: Double) -> Double {
        let k = 2 * cos(2 * Double.pi * frequency / 8000)
        var s1 = 0.0, s2 = 0.0
        for sample in samples {
            let s0 = Double(sample) + k * s1 - s2
            s2 = s1
            s1 = s0
        }
        return s1 * s1 + s2 * s2 - k * s1 * s2
    }

    /// The strongest frequency between 100 and 3800 Hz, in 10 Hz steps.
    public static func dominantFrequency(_ samples: [Int16]) -> Double {
        var best = (frequency: 0.0, power: -1.0)
        for f in stride(from: 100.0, through: 3800.0, by: 10.0) {
            let p = power(samples, at: f)
            if p > best.power { best = (f, p) }
        }
        return best.frequency
    }
}
