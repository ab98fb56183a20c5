// Moving between the primary and the secondary call server, as a plain value.

import Phone
import Testing

@Suite struct FailoverTests {
    @Test func twoMissedProbesMoveToTheSecondaryAndAnAnsweringPrimaryTakesThePhoneBack() {
        var f = CallServerFailover(hasSecondary: true)
        #expect(f.tick() == [.probe(.primary)])
        #expect(f.probed(.primary, answered: false) == [])
        #expect(f.probed(.primary, answered: false) == [.switchTo(.secondary)])
        #expect(f.current == .secondary)
        #expect(f.tick() == [.probe(.secondary), .probe(.primary)])
        #expect(f.probed(.secondary, answered: true) == [])
        #expect(f.probed(.primary, answered: false) == [], "the primary is still down: stay")
        #expect(f.probed(.primary, answered: true) == [.switchTo(.primary)])
        #expect(f.current == .primary)
    }

    @Test func anAnswerInBetweenResetsTheCount() {
        var f = CallServerFailover(hasSecondary: true)
        _ = f.probed(.primary, answered: false)
        _ = f.probed(.primary, answered: true)
        #expect(f.probed(.primary, answered: false) == [])
    }

    @Test func withoutASecondaryThePhoneStays() {
        var f = CallServerFailover(hasSecondary: false)
        _ = f.probed(.primary, answered: false)
        #expect(f.probed(.primary, answered: false) == [])
        #expect(f.registrationFailed() == [])
        #expect(f.current == .primary)
    }

    @Test func aFailedRegistrationMovesAtOnce() {
        var f = CallServerFailover(hasSecondary: true)
        #expect(f.registrationFailed() == [.switchTo(.secondary)])
    }
}
