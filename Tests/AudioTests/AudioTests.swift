// WAV, sources, gain and the mixer.

import Foundation
import Testing
@testable import Audio

@Suite struct WAVTests {
    @Test func writesAndReadsBack() throws {
        var tone = ToneSource(frequency: 440)
        let samples = (0..<50).flatMap { _ in tone.nextFrame() }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-\(UUID()).wav")
        try WAV.write(samples, to: url)
        #expect(try WAV.read(url) == samples)
        try? FileManager.default.removeItem(at: url)
    }

    @Test func resamplesAndDownmixesOtherFormats() throws {
        // 16 kHz stereo, 1 kHz tone in both channels.
        var interleaved: [Int16] = []
        for i in 0..<16000 {
            let s = Int16(8000 * sin(2 * Double.pi * 1000 * Double(i) / 16000))
            interleaved += [s, s]
        }
        var bytes = WAV.encode(interleaved, sampleRate: 16000)
        bytes[22] = 2  // channels
        bytes[28...31] = [0x00, 0xFA, 0x00, 0x00]  // byte rate 64000
        bytes[32] = 4  // block align
        let samples = try WAV.decode(bytes)
        #expect(samples.count == 8000)
        #expect(AudioAnalysis.dominantFrequency(samples) == 1000)
    }

    @Test func readsMuLawAndALaw() throws {
        var tone = ToneSource(frequency: 440)
        let samples = (0..<10).flatMap { _ in tone.nextFrame() }
        for (format, codec) in [(7, PCMU() as any AudioCodec), (6, PCMA() as any AudioCodec)] {
            let encoded = codec.encode(samples)
            var bytes = WAV.encode([Int16](repeating: 0, count: encoded.count / 2))
            bytes[20] = UInt8(format)
            bytes[32] = 1  // block align
            bytes[34] = 8  // bits per sample
            bytes[28...31] = [0x40, 0x1F, 0x00, 0x00]  // byte rate 8000
            bytes.replaceSubrange(44..., with: encoded)
            bytes[40...43] = [UInt8(encoded.count & 0xFF), UInt8(encoded.count >> 8), 0, 0]
            #expect(try WAV.decode(bytes) == codec.decode(encoded), "format \(format) reads as the codec decodes it")
        }
    }

    @Test func unsupportedFormatIsAClearError() {
        var bytes = WAV.encode([0, 1, 2])
        bytes[20] = 3  // IEEE float
        #expect(throws: WAVError("WAV: unsupported WAV encoding 3 (only integer PCM, mu-law or A-law)")) { try WAV.decode(bytes) }
        #expect(throws: WAVError("WAV is not a RIFF/WAVE file")) { try WAV.decode(Array("hello".utf8)) }
    }
}

@Suite struct SourceAndMixerTests {
    @Test func toneHasItsFrequency() {
        var tone = ToneSource(frequency: 1209)
        let samples = (0..<25).flatMap { _ in tone.nextFrame() }
        #expect(abs(AudioAnalysis.dominantFrequency(samples) - 1210) <= 10)
    }

    @Test func gainAndMute() {
        #expect(Gain.apply(0.5, to: [1000, -1000]) == [500, -500])
        #expect(Gain.apply(2, to: [30000]) == [32767], "saturates")
        #expect(Gain.mute([5, 6]) == [0, 0])
    }

    @Test func eachPartyHearsEveryoneButItself() {
        let inputs: [[Int16]] = [[100, 1], [200, 2], [400, 4]]
        let out = Mixer().mix(inputs, frameSize: 2)
        #expect(out == [[600, 6], [500, 5], [300, 3]])
    }

    @Test func mixerSaturates() {
        let out = Mixer().mix([[30000], [30000], [30000]], frameSize: 1)
        #expect(out[0] == [32767])
    }
}
