// Hot desking as a value: logins, moves, PIN tries and locks, with time passed in; the feature
// codes in the numbering plan; the configuration of hot-desk users.

import Testing
@testable import CallServer

@Suite struct HotDeskingTests {
    static func desks() -> HotDesking { HotDesking(pins: ["2101": "8642", "2102": "8643"], maxTries: 3, lockSeconds: 300) }

    @Test func aLoginIsSavedAndAnnouncedAndTheUserRingsThere() throws {
        var desks = Self.desks()
        let actions = try desks.login("2101", pin: "8642", at: "2004", now: 10).get()
        #expect(actions == [.save(user: "2101", device: "2004", since: 10), .changed(user: "2101", device: "2004", previous: nil)])
        #expect(desks.device(of: "2101") == "2004" && desks.user(at: "2004") == "2101")
    }

    @Test func loggingInElsewhereMovesTheUserAndTellsTheFirstPhone() throws {
        var desks = Self.desks()
        _ = try desks.login("2101", pin: "8642", at: "2004", now: 10).get()
        let moved = try desks.login("2101", pin: "8642", at: "2003", now: 20).get()
        #expect(moved == [.save(user: "2101", device: "2003", since: 20), .changed(user: "2101", device: "2003", previous: "2004")])
        #expect(desks.user(at: "2004") == nil && desks.device(of: "2101") == "2003")
    }

    @Test func aPhoneWithAnotherHotDeskUserIsRefused() throws {
        var desks = Self.desks()
        _ = try desks.login("2101", pin: "8642", at: "2004", now: 10).get()
        #expect(desks.login("2102", pin: "8643", at: "2004", now: 11) == .failure(.deviceTaken(device: "2004", by: "2101")))
        #expect(desks.device(of: "2102") == nil)
    }

    @Test func threeWrongPINsLockTheUserForAWhileEvenWithTheRightOne() {
        var desks = Self.desks()
        #expect(desks.login("2101", pin: "0000", at: "2004", now: 0) == .failure(.wrongPIN(user: "2101", triesLeft: 2)))
        #expect(desks.login("2101", pin: "1111", at: "2004", now: 1) == .failure(.wrongPIN(user: "2101", triesLeft: 1)))
        #expect(desks.login("2101", pin: "2222", at: "2004", now: 2) == .failure(.locked(user: "2101", until: 302)))
        #expect(desks.login("2101", pin: "8642", at: "2004", now: 100) == .failure(.locked(user: "2101", until: 302)), "locked: the right PIN too")
        #expect((try? desks.login("2101", pin: "8642", at: "2004", now: 302).get()) != nil, "the lock lapses")
        // The other hot-desk user was never locked.
        #expect((try? desks.login("2102", pin: "8643", at: "2003", now: 100).get()) != nil)
    }

    @Test func theRightPINResetsTheTries() {
        var desks = Self.desks()
        _ = desks.login("2101", pin: "0000", at: "2004", now: 0)
        _ = desks.login("2101", pin: "0000", at: "2004", now: 1)
        _ = desks.login("2101", pin: "8642", at: "2004", now: 2)
        #expect(desks.login("2101", pin: "0000", at: "2003", now: 3) == .failure(.wrongPIN(user: "2101", triesLeft: 2)))
    }

    @Test func onlyHotDeskUsersLogInAndOnlyLoggedInOnesLogOut() throws {
        var desks = Self.desks()
        #expect(desks.login("2001", pin: "1234", at: "2004", now: 0) == .failure(.notHotDesk("2001")))
        #expect(desks.logout("2101") == .failure(.notLoggedIn("2101")))
        _ = try desks.login("2101", pin: "8642", at: "2004", now: 0).get()
        #expect(try desks.logout("2101").get() == [.save(user: "2101", device: nil, since: 0), .changed(user: "2101", device: nil, previous: "2004")])
        #expect(desks.device(of: "2101") == nil)
    }

    @Test func aRestoredLoginOfAUserNoLongerConfiguredIsDropped() {
        var desks = Self.desks()
        desks.restore("2101", device: "2004", since: 5)
        desks.restore("2999", device: "2003", since: 5)
        #expect(desks.device(of: "2101") == "2004" && desks.logins.count == 1)
    }
}

@Suite struct HotDeskConfigurationTests {
    let yaml = """
    users:
      - { extension: "2001", name: A, password: a }
      - { extension: "2101", name: Hot Desk One, hotDeskPIN: "8642" }

    """

    @Test func aHotDeskUserNeedsNoPasswordAndHasNone() throws {
        let configuration = try PBXConfiguration.parse(yaml)
        #expect(configuration.user("2101")?.isHotDesk == true && configuration.user("2101")?.password == "")
        #expect(configuration.user("2001")?.isHotDesk == false)
    }

    @Test func aBadPINOrAMissingPasswordIsNamed() {
        #expect { try PBXConfiguration.parse("users:\n  - { extension: \"2101\", name: H, hotDeskPIN: \"12\" }\n", source: "pbx.yaml") } throws: {
            "\($0)".contains("users[0].hotDeskPIN")
        }
        #expect { try PBXConfiguration.parse("users:\n  - { extension: \"2001\", name: A }\n", source: "pbx.yaml") } throws: { _ in true }
    }

    @Test(arguments: [
        ("*12101#8642#", Destination.hotDesk(.login(user: "2101", pin: "8642"))),
        ("*12101#8642", Destination.hotDesk(.login(user: "2101", pin: "8642"))),
        ("*12101#", Destination.incomplete),
        ("*12101", Destination.incomplete),
        ("*1", Destination.incomplete),
        ("*12101#8642#9", Destination.unknown),
        ("*12101#86a2#", Destination.unknown),
        ("*2", Destination.hotDesk(.logout)),
    ])
    func theFeatureCodesAreInThePlan(dialed: String, expected: Destination) throws {
        #expect(NumberingPlan(try PBXConfiguration.parse(yaml)).resolve(dialed) == expected)
    }

    @Test func withoutHotDeskUsersTheCodesAreNotThere() throws {
        let plain = try PBXConfiguration.parse("users:\n  - { extension: \"2001\", name: A, password: a }\n")
        #expect(NumberingPlan(plain).resolve("*2") == .unknown)
    }
}
