// The contact center as tables and runs of events: agents, queues, offers, timers — no sockets
// and no clocks.

import Foundation
import Testing
@testable import CallServer

@Suite struct ContactCenterTests {
    static let configuration: ACDConfiguration = ACDConfiguration(
        groups: [ACDConfiguration.Group(name: "Sales agents", agents: ["7001", "7002", "7003"], wrapUpSeconds: 10),
                 ACDConfiguration.Group(name: "Support agents", agents: ["7004"])],
        paths: [ACDConfiguration.Path(number: "5000", name: "Sales", groups: ["Sales agents"], interflow: ACDConfiguration.Interflow(after: 120, to: "2004"), maxQueue: 3),
                ACDConfiguration.Path(number: "5001", name: "Support", groups: ["Support agents", "Sales agents"], overflowSeconds: 30)])

    /// Agents logged in in order, a second apart (so 7001 has been idle longest).
    static func center(_ logins: [String] = ["7001", "7002", "7003"]) -> ContactCenter {
        var center = ContactCenter(configuration)
        for (index, agent) in logins.enumerated() { _ = center.handle(.login(agent: agent, device: "dev\(agent)", now: Double(index))) }
        return center
    }

    static func offers(_ actions: [ContactCenter.Action]) -> [String] {
        actions.compactMap { if case .offer(let call, let agent, _, _) = $0 { "\(call)→\(agent)" } else { nil } }
    }

    @Test func aCallerArrivingIsQueuedAndOfferedToTheLongestIdleAgent() {
        var center = Self.center()
        let actions = center.handle(.callArrived(call: "c1", path: "5000", now: 20))
        #expect(actions == [
            .log(QueueLogEntry(time: 20, kind: .enter, path: "5000", call: "c1")),
            .queue(call: "c1", path: "5000", position: 1),
            .startTimer(.interflow(call: "c1"), seconds: 120),
            .offer(call: "c1", agent: "7001", device: "dev7001", ringSeconds: 15),
            .agentChanged("7001"),
            .log(QueueLogEntry(time: 20, kind: .offer, path: "5000", call: "c1", agent: "7001")),
        ])
        #expect(center.agents["7001"]?.status == "offered")
    }

    @Test func twentyCallsGoToTheLongestIdleAgentInTurn() {
        var center = Self.center()
        var order: [String] = []
        var time = 10.0
        for n in 1...20 {
            let call = "c\(n)"
            let offered = Self.offers(center.handle(.callArrived(call: call, path: "5000", now: time)))
            #expect(offered.count == 1, "call \(n): \(offered)")
            guard let agent = offered.first?.split(separator: "→").last.map(String.init) else { return }
            order.append(agent)
            #expect(center.handle(.offerAnswered(call: call, agent: agent, now: time + 1)).contains(.connect(call: call, agent: agent)))
            let ended = center.handle(.acdCallEnded(call: call, now: time + 2))
            #expect(ended.contains(.startTimer(.wrapUp(agent: agent), seconds: 10)), "wrap-up after an ACD call")
            _ = center.handle(.timer(.wrapUp(agent: agent), now: time + 12))
            time += 20
        }
        #expect(order == (0..<20).map { ["7001", "7002", "7003"][$0 % 3] }, "\(order)")
        #expect(center.statistics["5000"]?.answered == 20)
        #expect(center.statistics["5000"]?.averageSpeedOfAnswer == 1)
    }

    @Test func ringNoAnswerPutsTheAgentOnMakeBusyAndOffersTheNext() {
        var center = Self.center()
        _ = center.handle(.callArrived(call: "c1", path: "5000", now: 10))
        let actions = center.handle(.offerFailed(call: "c1", agent: "7001", now: 25))
        #expect(center.agents["7001"]?.status == "makeBusy" && center.agents["7001"]?.reason == "no answer")
        #expect(actions.contains(.log(QueueLogEntry(time: 25, kind: .ringNoAnswer, path: "5000", call: "c1", agent: "7001"))))
        #expect(Self.offers(actions) == ["c1→7002"])
        // Back to available by the agent's own choice.
        _ = center.handle(.setIntent(agent: "7001", .available, now: 30))
        #expect(center.agents["7001"]?.status == "available")
    }

    @Test func exactlyOneAgentAnswersACall() {
        var center = Self.center()
        _ = center.handle(.callArrived(call: "c1", path: "5000", now: 10))
        #expect(center.handle(.offerAnswered(call: "c1", agent: "7002", now: 11)) == [.refuseAnswer(call: "c1", agent: "7002")],
                "an agent who does not hold the offer cannot take the call")
        #expect(center.handle(.offerAnswered(call: "c1", agent: "7001", now: 11)).contains(.connect(call: "c1", agent: "7001")))
        #expect(center.handle(.offerAnswered(call: "c1", agent: "7001", now: 12)) == [.refuseAnswer(call: "c1", agent: "7001")],
                "a second answer of a connected call is refused")
    }

    @Test func anAgentHasOneOfferAtATime() {
        var center = Self.center(["7001"])
        let first = center.handle(.callArrived(call: "c1", path: "5000", now: 10))
        let second = center.handle(.callArrived(call: "c2", path: "5000", now: 11))
        #expect(Self.offers(first) == ["c1→7001"])
        #expect(Self.offers(second).isEmpty, "7001 already has an offer")
        #expect(second.contains(.queue(call: "c2", path: "5000", position: 2)))
        _ = center.handle(.offerAnswered(call: "c1", agent: "7001", now: 12))
        _ = center.handle(.acdCallEnded(call: "c1", now: 40))
        #expect(center.agents["7001"]?.status == "wrapUp")
        let after = center.handle(.endWrapUp(agent: "7001", now: 45))
        #expect(Self.offers(after) == ["c2→7001"], "the agent ending wrap-up takes the next caller")
    }

    @Test func overflowReachesTheNextGroupByItsTimer() {
        var center = Self.center(["7001"])  // a Sales agent only; Support's own group is empty
        let arrived = center.handle(.callArrived(call: "c1", path: "5001", now: 10))
        #expect(Self.offers(arrived).isEmpty)
        #expect(arrived.contains(.startTimer(.overflow(call: "c1"), seconds: 30)))
        let overflowed = center.handle(.timer(.overflow(call: "c1"), now: 40))
        #expect(Self.offers(overflowed) == ["c1→7001"])
    }

    @Test func interflowByItsTimerWhenNobodyAnswers() {
        var center = ContactCenter(Self.configuration)  // nobody logged in: the caller still queues
        let arrived = center.handle(.callArrived(call: "c1", path: "5000", now: 0))
        #expect(arrived.contains(.queue(call: "c1", path: "5000", position: 1)))
        let gone = center.handle(.timer(.interflow(call: "c1"), now: 120))
        #expect(gone == [.stopTimer(.overflow(call: "c1")), .interflow(call: "c1", to: "2004"),
                         .log(QueueLogEntry(time: 120, kind: .interflow, path: "5000", call: "c1", detail: "120"))])
        #expect(center.waiting.isEmpty && center.statistics["5000"]?.interflowed == 1)
        #expect(center.handle(.timer(.interflow(call: "c1"), now: 121)).isEmpty, "a stale timer does nothing")
    }

    @Test func aFullQueueSendsTheCallerOnAtOnce() {
        var center = ContactCenter(Self.configuration)
        for n in 1...3 { _ = center.handle(.callArrived(call: "c\(n)", path: "5000", now: Double(n))) }
        #expect(center.handle(.callArrived(call: "c4", path: "5000", now: 4)) == [
            .log(QueueLogEntry(time: 4, kind: .full, path: "5000", call: "c4")), .interflow(call: "c4", to: "2004")])
    }

    @Test func aCallerWhoHangsUpIsCountedAbandonedAndItsOfferWithdrawn() {
        var center = Self.center(["7001"])
        _ = center.handle(.callArrived(call: "c1", path: "5000", now: 10))
        let left = center.handle(.callerLeft(call: "c1", now: 14))
        #expect(left.prefix(2) == [.withdrawOffer(call: "c1", agent: "7001"), .agentChanged("7001")])
        #expect(left.contains(.log(QueueLogEntry(time: 14, kind: .abandon, path: "5000", call: "c1", detail: "4"))))
        #expect(center.statistics["5000"]?.abandoned == 1)
        #expect(center.agents["7001"]?.status == "available" && center.agents["7001"]?.idleSince == 0, "idle time kept")
        #expect(center.handle(.offerAnswered(call: "c1", agent: "7001", now: 15)) == [.refuseAnswer(call: "c1", agent: "7001")],
                "an answer crossing the withdrawal is refused")
    }

    @Test func makeBusyDuringACallAppliesAfterIt() {
        var center = Self.center(["7004"])
        _ = center.handle(.callArrived(call: "c1", path: "5001", now: 10))
        _ = center.handle(.offerAnswered(call: "c1", agent: "7004", now: 11))
        _ = center.handle(.setIntent(agent: "7004", .makeBusy(reason: "lunch"), now: 12))
        #expect(center.agents["7004"]?.status == "onACDCall")
        _ = center.handle(.acdCallEnded(call: "c1", now: 30))  // Support: no wrap-up
        #expect(center.agents["7004"]?.status == "makeBusy" && center.agents["7004"]?.reason == "lunch")
        #expect(Self.offers(center.handle(.callArrived(call: "c2", path: "5001", now: 31))).isEmpty, "no offer on make busy")
    }

    @Test func aNonACDCallKeepsTheAgentFromOffersButNotItsIdleTime() {
        var center = Self.center(["7001", "7002"])
        _ = center.handle(.otherCallStarted(agent: "7001"))
        #expect(Self.offers(center.handle(.callArrived(call: "c1", path: "5000", now: 10))) == ["c1→7002"])
        _ = center.handle(.otherCallEnded(agent: "7001", now: 20))
        #expect(center.agents["7001"]?.idleSince == 0)
    }

    static let refusals: [(String, ContactCenter.Event, ContactCenter.Refusal)] = [
        ("an unknown agent ID", .login(agent: "7999", device: "d", now: 0), .unknownAgent("7999")),
        ("an agent logged in at another device", .login(agent: "7001", device: "other", now: 0), .loggedInElsewhere(agent: "7001", device: "dev7001")),
        ("a logout of an agent logged out", .logout(agent: "7004", now: 0), .notLoggedIn("7004")),
        ("make busy with a reason not configured", .setIntent(agent: "7001", .makeBusy(reason: "nap"), now: 0), .unknownReason("nap")),
        ("ending a wrap-up that is not one", .endWrapUp(agent: "7001", now: 0), .notInWrapUp("7001")),
    ]

    @Test(arguments: refusals.indices)
    func agentRequestsRefused(_ row: Int) {
        let (name, event, refusal) = Self.refusals[row]
        var center = Self.center()
        #expect(center.handle(event) == [.refuse(refusal)], "\(name)")
    }

    @Test func aLogoutDuringAnACDCallIsRefusedAndAllowedAfter() {
        var center = Self.center(["7004"])
        _ = center.handle(.callArrived(call: "c1", path: "5001", now: 10))
        #expect(center.handle(.logout(agent: "7004", now: 11)) == [.refuse(.onACDCall("7004"))])
        _ = center.handle(.offerAnswered(call: "c1", agent: "7004", now: 11))
        #expect(center.handle(.logout(agent: "7004", now: 12)) == [.refuse(.onACDCall("7004"))])
        _ = center.handle(.acdCallEnded(call: "c1", now: 20))
        #expect(center.handle(.logout(agent: "7004", now: 21)).contains(.agentChanged("7004")))
        #expect(center.agents["7004"]?.status == "loggedOut")
    }

    @Test func agentsLoggedInBeforeARestartStayLoggedIn() {
        var center = ContactCenter(Self.configuration)
        center.restore("7002", device: "desk", intent: .makeBusy(reason: "lunch"), now: 100)
        #expect(center.agents["7002"]?.status == "makeBusy" && center.agents["7002"]?.device == "desk")
    }
}

@Suite struct ACDConfigurationTests {
    @Test func theExampleOfficeHasSalesAndSupport() throws {
        let office = try PBXConfiguration.load(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/office/pbx.yaml"))
        #expect(office.acd.path("5000")?.name == "Sales" && office.acd.path("5000")?.interflow == ACDConfiguration.Interflow(after: 120, to: "2004"))
        #expect(office.acd.path("5001")?.groups == ["Support agents", "Sales agents"] && office.acd.path("5001")?.overflowSeconds == 30)
        #expect(office.acd.group("Sales agents")?.agents == ["7001", "7002", "7003"])
    }

    static let base = """
        cti: { secret: s }
        users:
          - { extension: "2001", name: A, password: p }

        """

    static let invalid: [(String, String)] = [
        ("acd: { paths: [ { number: \"5000\", name: S, groups: [Nobody] } ] }", "there is no agent group Nobody"),
        ("acd: { groups: [ { name: G, agents: [\"2001\"] } ] }", "already a user's extension"),
        ("acd: { groups: [ { name: G, agents: [\"7001\"] } ], paths: [ { number: \"2001\", name: S, groups: [G] } ] }", "acd.paths[0].number 2001"),
        ("acd: { groups: [ { name: G, agents: [\"7001\"], wrapUpSeconds: 900 } ] }", "wrapUpSeconds must be 0–600"),
        ("acd: { groups: [ { name: G, agents: [\"7001\"] } ], paths: [ { number: \"5000\", name: S, groups: [G], interflow: { after: 60, to: \"2999\" } } ] }",
         "interflow.to: 2999"),
        ("acd: { groups: [ { name: G, agents: [\"7001\"] } ], paths: [ { number: \"5000\", name: S, groups: [] } ] }", "name at least one agent group"),
    ]

    @Test(arguments: invalid.indices)
    func invalidConfigurationsAreNamed(_ row: Int) {
        let (yaml, expected) = Self.invalid[row]
        do {
            _ = try PBXConfiguration.parse(Self.base + yaml)
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }
}
