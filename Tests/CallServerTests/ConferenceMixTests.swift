// The conference mix and the room's entry dialogue, as plain values: frames in, frames out, no
// sockets or clocks.

import Audio
import Foundation
import MediaServices
import Testing

@Suite struct ConferenceMixTests {
    static func tone(_ frequency: Double, amplitude: Double = 3000) -> [Int16] {
        var source = ToneSource(frequency: frequency, amplitude: amplitude)
        return source.nextFrame()
    }

    static let silence = [Int16](repeating: 0, count: samplesPerFrame)

    /// One period: everyone's frame in, then everyone's frame out (in the order given).
    static func period(_ mix: inout ConferenceMix, _ inputs: [(String, [Int16])]) -> [String: [Int16]] {
        for (id, frame) in inputs { mix.input(id, frame) }
        var out: [String: [Int16]] = [:]
        for (id, _) in inputs { out[id] = mix.output(id).frame }
        return out
    }

    @Test func eachTalkerHearsTheOthersAndNotItself() {
        var mix = ConferenceMix()
        for id in ["a", "b", "c"] { mix.add(id) }
        let a = Self.tone(440), b = Self.tone(1000), c = Self.tone(1600)
        _ = Self.period(&mix, [("a", a), ("b", b), ("c", c)])  // the first period primes each participant
        let out = Self.period(&mix, [("a", a), ("b", b), ("c", c)])
        func power(_ id: String, _ f: Double) -> Double { AudioAnalysis.power(out[id]!, at: f) }
        // a hears b and c, strongly; its own 440 Hz is absent (subtracted exactly).
        #expect(power("a", 1000) > 1e9 && power("a", 1600) > 1e9)
        #expect(power("a", 440) < power("a", 1000) / 100)
        #expect(power("b", 440) > 1e9 && power("b", 1600) > 1e9 && power("b", 1000) < power("b", 440) / 100)
        #expect(power("c", 440) > 1e9 && power("c", 1000) > 1e9 && power("c", 1600) < power("c", 440) / 100)
        #expect(mix.isTalking("a") && mix.isTalking("b") && mix.isTalking("c"))
    }

    @Test func listenersShareTheSumOfTheTalkers() {
        var mix = ConferenceMix()
        for id in ["talker", "x", "y"] { mix.add(id) }
        let voice = Self.tone(700)
        _ = Self.period(&mix, [("talker", voice), ("x", Self.silence), ("y", Self.silence)])
        let out = Self.period(&mix, [("talker", voice), ("x", Self.silence), ("y", Self.silence)])
        #expect(out["x"] == voice && out["y"] == voice)
        #expect(out["talker"] == Self.silence)
        #expect(!mix.isTalking("x"))
    }

    @Test func loudTalkersSaturateInsteadOfWrappingAround() {
        var mix = ConferenceMix()
        for id in ["a", "b", "c"] { mix.add(id) }
        let loud = [Int16](repeating: 30000, count: samplesPerFrame)
        _ = Self.period(&mix, [("a", loud), ("b", loud), ("c", Self.silence)])
        let out = Self.period(&mix, [("a", loud), ("b", loud), ("c", Self.silence)])
        #expect(out["c"]!.allSatisfy { $0 == Int16.max })
        #expect(out["a"] == loud)
    }

    @Test func aMutedTalkerIsHeardByNobody() {
        var mix = ConferenceMix()
        for id in ["a", "b"] { mix.add(id) }
        mix.setMuted("a", true)
        let voice = Self.tone(500)
        _ = Self.period(&mix, [("a", voice), ("b", Self.silence)])
        let out = Self.period(&mix, [("a", voice), ("b", Self.silence)])
        #expect(out["b"] == Self.silence)
        mix.setMuted("a", false)
        let after = Self.period(&mix, [("a", voice), ("b", Self.silence)])
        #expect(after["b"] == voice)
    }

    @Test func aRoomOfOneOrOfSilenceMixesNothing() {
        var mix = ConferenceMix()
        mix.add("alone")
        for _ in 0..<50 { _ = Self.period(&mix, [("alone", Self.tone(440))]) }
        #expect(mix.mixedPeriods == 0)
        mix.add("other")
        // The hang-over of the last words, then silence: nothing more is summed.
        for _ in 0..<20 { _ = Self.period(&mix, [("alone", Self.silence), ("other", Self.silence)]) }
        let afterHangOver = mix.mixedPeriods
        #expect(afterHangOver <= ConferenceMix.hangoverFrames + 1)
        for _ in 0..<50 { _ = Self.period(&mix, [("alone", Self.silence), ("other", Self.silence)]) }
        #expect(mix.mixedPeriods == afterHangOver)
        _ = Self.period(&mix, [("alone", Self.tone(440)), ("other", Self.silence)])
        _ = Self.period(&mix, [("alone", Self.tone(440)), ("other", Self.silence)])
        #expect(mix.mixedPeriods > afterHangOver)
    }

    @Test func talkingHasAHangOverAndIsReported() {
        var mix = ConferenceMix()
        for id in ["a", "b"] { mix.add(id) }
        var changes: [String] = []
        func step(_ frame: [Int16]) {
            mix.input("a", frame)
            mix.input("b", Self.silence)
            changes += mix.output("a").talkingChanged + mix.output("b").talkingChanged
        }
        step(Self.tone(440)); step(Self.tone(440))
        #expect(mix.isTalking("a") && changes == ["a"])
        for _ in 0..<ConferenceMix.hangoverFrames { step(Self.silence) }
        #expect(mix.isTalking("a"), "stopped talking within the hang-over")
        step(Self.silence); step(Self.silence)
        #expect(!mix.isTalking("a") && changes == ["a", "a"])
    }

    @Test func aParticipantSendingFasterThanTheRoomCannotGrowItsQueue() {
        var mix = ConferenceMix()
        for id in ["a", "b"] { mix.add(id) }
        for _ in 0..<10_000 { mix.input("a", Self.tone(440)) }
        // Only the last few frames wait: the next periods drain them, then silence.
        var loud = 0
        for _ in 0..<20 {
            _ = mix.output("a")
            if AudioAnalysis.rms(mix.output("b").frame) > 100 { loud += 1 }
        }
        #expect(loud <= ConferenceMix.queueLimit)
    }

    @Test func aPromptForOneParticipantIsHeardByItAlone() {
        var mix = ConferenceMix()
        for id in ["a", "b"] { mix.add(id) }
        mix.overlay(Self.tone(900), for: "a")
        let out = Self.period(&mix, [("a", Self.silence), ("b", Self.silence)])
        #expect(out["a"] == Self.tone(900) && out["b"] == Self.silence)
        #expect(!mix.isPlaying("a"))
    }

    /// What a participant hears says since when the oldest talker's frame in it waited in the room;
    /// a talker alone hears nobody's voice, so its frame carries no such time.
    @Test func eachHeardFrameSaysWhenItsOldestTalkerFrameArrived() {
        var mix = ConferenceMix()
        for id in ["a", "b", "c"] { mix.add(id) }
        for id in ["a", "b", "c"] { _ = mix.output(id) }  // prime
        mix.input("a", Self.tone(440), at: 5_000)
        mix.input("b", Self.tone(1000), at: 3_000)
        mix.input("c", Self.silence, at: 4_000)
        // c asks first: the next period starts, with a's and b's frames, the older from 3 µs.
        #expect(mix.output("c").carriedSince == 3_000)
        #expect(mix.output("a").carriedSince == 3_000)  // a hears b (its own frame is taken out)
        #expect(mix.output("b").carriedSince == 3_000)
        // Alone in speaking, a hears nobody's voice.
        mix.input("a", Self.tone(440), at: 9_000)
        for _ in 0..<ConferenceMix.hangoverFrames + 1 {
            for id in ["a", "b", "c"] { _ = mix.output(id) }
            mix.input("a", Self.tone(440), at: 9_000)
        }
        #expect(!mix.isTalking("b") && mix.isTalking("a"))
        #expect(mix.output("a").carriedSince == nil)
        #expect(mix.output("b").carriedSince == 9_000)
    }

    @Test func theLatencyHistogramGivesPercentilesInItsBuckets() {
        var histogram = LatencyHistogram()
        #expect(histogram.percentile(50) == 0)
        for ms in 1...100 { histogram.record(microseconds: ms * 1000) }
        #expect(histogram.count == 100 && histogram.maximum == 100_000)
        #expect(histogram.percentile(50) == 50_100)  // the 50th value, 50 ms, lies in the bucket 50.0–50.1 ms
        #expect(histogram.percentile(99) == 99_100)
        histogram.record(microseconds: 5_000_000)  // beyond the last bucket: counted, and the maximum
        #expect(histogram.maximum == 5_000_000 && histogram.percentile(100) == 5_000_000)
    }
}

@Suite struct ConferenceEntryTests {
    @Test func anOpenRoomTakesTheCallerStraightIn() {
        var entry = ConferenceEntry(pin: nil)
        #expect(entry.start() == [.join])
    }

    @Test func theRightPINEndedByPoundJoins() {
        var entry = ConferenceEntry(pin: "4321")
        #expect(entry.start() == [.play(["conf-pin"])])
        for digit in "432" { #expect(entry.digit(digit) == []) }
        #expect(entry.digit("1") == [])
        #expect(entry.digit("#") == [.join])
        #expect(entry.state == .joining)
        #expect(entry.digit("5") == [], "digits in the room are not a PIN")
    }

    @Test func theDigitTimeoutEndsThePINToo() {
        var entry = ConferenceEntry(pin: "4321")
        _ = entry.start()
        for digit in "4321" { _ = entry.digit(digit) }
        #expect(entry.timeout() == [.join])
    }

    @Test func threeWrongPINsHangUp() {
        var entry = ConferenceEntry(pin: "4321")
        _ = entry.start()
        for digit in "1111#" { _ = entry.digit(digit) }
        #expect(entry.state == .askingPIN(tries: 1, keyed: ""))
        _ = entry.timeout()  // nothing keyed counts as a wrong try
        #expect(entry.state == .askingPIN(tries: 2, keyed: ""))
        for digit in "432" { _ = entry.digit(digit) }
        #expect(entry.digit("#") == [.refuse(["conf-pin-wrong", "vm-goodbye"])])
        #expect(entry.state == .refused)
        #expect(entry.digit("4") == [] && entry.timeout() == [])
    }

    @Test func aWrongPINIsAskedAgain() {
        var entry = ConferenceEntry(pin: "4321")
        _ = entry.start()
        for digit in "9#" { _ = entry.digit(digit) }
        #expect(entry.state == .askingPIN(tries: 1, keyed: ""))
        for digit in "4321" { _ = entry.digit(digit) }
        #expect(entry.digit("#") == [.join])
    }

    @Test func roomsAreValidated() throws {
        #expect(throws: (any Error).self) { try ConferenceRoomConfiguration(number: "51a", name: "x").validate(key: "k") }
        #expect(throws: (any Error).self) { try ConferenceRoomConfiguration(number: "5101", name: "x", pin: "12").validate(key: "k") }
        #expect(throws: (any Error).self) { try ConferenceRoomConfiguration(number: "5101", name: "x", maxParticipants: 1).validate(key: "k") }
        #expect(throws: (any Error).self) {
            try ConferenceRoomConfiguration.validate([.init(number: "5100", name: "a"), .init(number: "5100", name: "b")], key: "k")
        }
        try ConferenceRoomConfiguration(number: "5101", name: "Board", pin: "4321").validate(key: "k")
    }
}
