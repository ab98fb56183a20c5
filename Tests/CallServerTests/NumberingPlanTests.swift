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

    @Test func conferenceRoomsAreInThePlanAndCannotTakeAnotherNumber() throws {
        var configuration = officeConfiguration()
        configuration.conferences = [.init(number: "5100", name: "Open"), .init(number: "5101", name: "Board", pin: "4321")]
        #expect(NumberingPlan(configuration).resolve("5100") == .conference("5100"))
        #expect(NumberingPlan(configuration).resolve("5102") == .unknown)
        let base = "users:\n  - { extension: \"2001\", name: A, password: p }\n"
        for (yaml, named) in [
            (base + "conferences:\n  - { number: \"2001\", name: X }\n", "conferences[0].number 2001"),
            (base + "conferences:\n  - { number: \"5100\", name: X, pin: \"12\" }\n", "conferences[0].pin"),
            (base + "conferences:\n  - { number: \"5100\" }\n  - { number: \"5100\" }\n", "conferences[1].number 5100"),
            (base + "numbering:\n  - { dial: \"*50\", service: conference }\n", "numbering[0].service"),
        ] {
            #expect { try PBXConfiguration.parse(yaml, source: "pbx.yaml") } throws: { "\($0)".contains(named) }
        }
        let parsed = try PBXConfiguration.parse(base + "conferences:\n  - { number: \"5100\" }\n", source: "pbx.yaml")
        #expect(parsed.conference("5100")?.name == "Conference 5100" && parsed.conference("5100")?.maxParticipants == 32)
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
