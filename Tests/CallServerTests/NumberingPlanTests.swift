// The numbering plan and the media services' pure parts.

import Audio
import MediaServices
import Testing
@testable import CallServer

@Suite struct NumberingPlanTests {
    func plan(_ extra: [PBXConfiguration.NumberingEntry] = []) -> NumberingPlan {
        var configuration = officeConfiguration()
        configuration.numbering += extra
        return NumberingPlan(configuration)
    }

    @Test(arguments: [
        ("2002", Destination.user("2002")),
        ("*43", .service(.echo)),
        ("*4", .incomplete),
        ("*", .incomplete),
        ("*44", .unknown),
        ("9999", .unknown),
        ("", .unknown),
        ("0", .user("2004")),
        ("*90", .service(.musicOnHold)),
    ])
    func aDialedNumberReachesItsDestination(dialed: String, expected: Destination) {
        let plan = plan([.init(dial: "0", user: "2004"), .init(dial: "*90", service: .musicOnHold)])
        #expect(plan.resolve(dialed) == expected, "\(dialed)")
    }

    @Test func theDefaultPlanHasTheEchoTest() {
        #expect(PBXConfiguration().numbering == [.init(dial: "*43", service: .echo)])
    }

    @Test func theEchoLoopGivesBackWhatItGotInOrderAndStaysBounded() {
        let loop = EchoLoop(capacity: 3)
        #expect(loop.nextFrame() == [Int16](repeating: 0, count: samplesPerFrame), "silence before anything arrives")
        for value in Int16(1)...5 { loop.write([Int16](repeating: value, count: samplesPerFrame)) }
        // Only the newest three are kept: a sender faster than the clock cannot grow it.
        #expect((0..<4).map { _ in loop.nextFrame()[0] } == [3, 4, 5, 0])
    }

    @Test func theBuiltInMusicIsAudibleAndHasRests() {
        let samples = DefaultMusic.samples()
        #expect(samples.count == 16 * 2000, "sixteen 250 ms notes")
        let loud = samples.filter { abs(Int($0)) > 1000 }.count
        #expect(loud > samples.count / 4, "mostly notes")
        #expect(samples.suffix(2000).allSatisfy { $0 == 0 }, "the phrase ends on a rest")
    }
}
