// What a caller waiting on an ACD path hears: the prompts shipped, the phrase of a position and an
// expected wait, the announcer's timing in frames, and the standing the contact center computes.

import Audio
import Foundation
import Testing
@testable import CallServer
@testable import MediaServices

@Suite struct QueueAnnouncementTests {
    @Test func everyListedPromptShipsAsShortSpeech() throws {
        let prompts = Prompts.shipped
        let hotDesk = ["hotdesk-logged-in", "hotdesk-logged-out", "hotdesk-login-failed", "hotdesk-locked", "hotdesk-in-use", "hotdesk-nobody"]
        for name in ["caller-number", "expected-wait", "less-than-a-minute", "minute", "minutes", "thank-you-for-holding"] + (1...20).map({ "n\($0)" })
            + hotDesk + ["park-parked-on", "park-empty", "n0"] {
            let samples = try #require(prompts.samples[name], "prompt \(name) ships")
            // Between a fifth of a second and eight seconds of sound, not silence.
            #expect((1600...64000).contains(samples.count), "\(name): \(samples.count) samples")
            #expect(AudioAnalysis.rms(samples) > 300, "\(name) is speech, RMS \(AudioAnalysis.rms(samples))")
        }
    }

    @Test func anAnnouncementSaysOnlyPromptsThatShipAndNotTooMany() {
        let prompts = Prompts.shipped
        #expect(Announcement.prompts("park-parked-on n7 n0 n1", known: prompts) == ["park-parked-on", "n7", "n0", "n1"])
        #expect(Announcement.prompts("park-parked-on ../../etc/passwd n7", known: prompts) == ["park-parked-on", "n7"])
        #expect(Announcement.prompts(nil, known: prompts).isEmpty)
        #expect(Announcement.prompts(Array(repeating: "n1", count: 100).joined(separator: " "), known: prompts).count == Announcement.maxPrompts)
    }

    @Test func numbersAreSpokenAsTensAndUnits() {
        #expect(Prompts.number(7) == ["n7"])
        #expect(Prompts.number(20) == ["n20"])
        #expect(Prompts.number(42) == ["n40", "n2"])
        #expect(Prompts.number(90) == ["n90"])
        #expect(Prompts.number(0) == nil)
        #expect(Prompts.number(100) == nil)
    }

    @Test func aStatusTravelsAsTextAndBadTextIsRefused() {
        let status = QueueStatus(position: 2, expectedWait: 45, interval: 30)
        #expect(status.text == "position=2;wait=45;interval=30")
        #expect(QueueStatus(parsing: status.text) == status)
        #expect(QueueStatus(parsing: "position=3;interval=20") == QueueStatus(position: 3, expectedWait: nil, interval: 20))
        for bad in ["", "position=0;interval=30", "position=two;interval=30", "position=1", "position=1;interval=0", "position=1;interval=30;wait=-4", "junk"] {
            #expect(QueueStatus(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func thePhraseSaysThePositionThenTheWaitInMinutes() {
        #expect(QueueStatus(position: 2, expectedWait: nil, interval: 30).phrase() == ["caller-number", "n2"])
        #expect(QueueStatus(position: 1, expectedWait: 40, interval: 30).phrase() == ["caller-number", "n1", "less-than-a-minute"])
        #expect(QueueStatus(position: 3, expectedWait: 130, interval: 30).phrase() == ["caller-number", "n3", "expected-wait", "n3", "minutes"])
        #expect(QueueStatus(position: 3, expectedWait: 60, interval: 30).phrase() == ["caller-number", "n3", "expected-wait", "n1", "minute"])
        // Counted down by what was waited since the status came.
        #expect(QueueStatus(position: 3, expectedWait: 130, interval: 30).phrase(waited: 80) == ["caller-number", "n3", "less-than-a-minute"])
        #expect(QueueStatus(position: 150, expectedWait: nil, interval: 30).phrase() == [], "no position beyond 99")
    }

    /// Prompts of known lengths: a frame of 1s per prompt word, so what plays can be read back.
    static func announcer(interval: Int) -> QueueAnnouncer {
        let prompts = Prompts(samples: ["thank-you-for-holding": [Int16](repeating: 9, count: 160), "caller-number": [Int16](repeating: 1, count: 160),
                                        "n1": [Int16](repeating: 11, count: 160), "n2": [Int16](repeating: 12, count: 160)])
        return QueueAnnouncer(prompts: prompts, music: [Int16](repeating: 100, count: 800), status: QueueStatus(position: 2, expectedWait: nil, interval: interval))
    }

    @Test func theCallerHearsWelcomeAndPositionAtOnceThenMusicThenThePositionEachInterval() {
        var announcer = Self.announcer(interval: 2)
        let first = (0..<100).map { _ in announcer.nextFrame()[0] }
        #expect(Array(first.prefix(3)) == [9, 1, 12], "welcome, then 'caller number two'")
        #expect(first.dropFirst(3).allSatisfy { $0 == 100 }, "music until the interval is over")
        announcer.update(QueueStatus(position: 1, expectedWait: nil, interval: 2))
        let second = (0..<100).map { _ in announcer.nextFrame()[0] }
        #expect(Array(second.prefix(3)) == [1, 11, 100], "after two seconds: 'caller number one' (no welcome again), then music")
        #expect(announcer.announcements == 2)
    }

    @Test func theStandingCountsPositionsPerPathAndExpectsThePathsAverageWaitLessWhatWasWaited() {
        var center = ContactCenterTests.center([])  // nobody logged in: everyone waits
        _ = center.handle(.callArrived(call: "a", path: "5000", now: 0))
        _ = center.handle(.callArrived(call: "b", path: "5001", now: 1))
        _ = center.handle(.callArrived(call: "c", path: "5000", now: 2))
        var standing = center.standing(now: 10)
        #expect(standing["a"] == QueueStatus(position: 1, expectedWait: nil, interval: 30))
        #expect(standing["b"]?.position == 1)
        #expect(standing["c"]?.position == 2)
        // An agent answers "a" after 40 s: the path's average speed of answer is 40 s.
        _ = center.handle(.login(agent: "7001", device: "dev7001", now: 40))
        _ = center.handle(.offerAnswered(call: "a", agent: "7001", now: 40))
        standing = center.standing(now: 42)
        #expect(standing["a"] == nil)
        #expect(standing["c"] == QueueStatus(position: 1, expectedWait: 0, interval: 30), "c waited 40 s, as long as the average")
        _ = center.handle(.callArrived(call: "d", path: "5000", now: 42))
        #expect(center.standing(now: 50)["d"] == QueueStatus(position: 2, expectedWait: 32, interval: 30))
    }
}
