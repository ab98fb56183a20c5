// The call server's signalling as third-party SIP software exercises it, each against SIPp or
// baresip: late offer, BYE on an early dialog, re-INVITE without an offer, refusals that must come
// before anything else (483, 405, 403), and failures relayed with their Warning.

import CallServer
import Foundation
import TestSupport
import Testing
import Wire

@Suite(.serialized, .realPeers) struct PBXSignallingTests {
    /// The authenticated SIPp caller (scenarios whose INVITE answers a 407) as `user`, calling `callee`.
    static func caller(_ scenario: String, user: String = "2001", callee: String, pbx: PBXProcess, extra: [String] = []) throws -> ExternalProcess {
        try SIPp.start(scenario, remote: "127.0.0.1:\(pbx.port)", localPort: ExternalProcess.freePort(), service: callee,
                       extra: ["-au", user, "-ap", "pw\(user)", "-set", "caller", user] + extra)
    }

    @Test func aLateOfferThroughTheCallServerCarriesAudioBothWays() async throws {
        let pbx = try await PBXProcess.start()
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true)
        let brookProcess = try brook.start(seconds: 12)
        try await withTimeout(10, "2002 to register") {
            while !pbx.process.outputTail().contains("user=2002") { try await Task.sleep(for: .milliseconds(20)) }
        }
        // SIPp's INVITE has no SDP; baresip offers in its 200 and SIPp answers in the ACK, which
        // only the call server can carry to baresip. SIPp echoes what it receives, so baresip hears
        // its own tone only if media flowed both ways on the addresses the late offer agreed.
        let sipp = try Self.caller("uac_late_offer.xml", callee: "2002", pbx: pbx, extra: ["-rtp_echo", "-mp", String(ExternalProcess.freePort())])
        try await SIPp.expectSuccess(sipp, within: 30)
        try await brookProcess.waitForExit(within: 30)
        let heard = try await Sox.roughFrequency(try brook.receivedRecording())
        #expect(abs(heard - 900) < 45, "2002 heard \(heard) Hz through SIPp's echo, expected its own 900 Hz")
        pbx.process.terminate()
        let records = try FeatureStore(directory: pbx.dataDirectory).records(after: 0)
        #expect(records.contains { $0.caller == "2001" && $0.callee == "2002" && $0.outcome == "answered" }, "\(records)")
    }

    /// Twenty SIPp callers, one after the other, into the Sales path; three `holdfast sip answer`
    /// phones are where agents 7001–7003 logged in. Each call queues on music, is offered to the
    /// longest idle agent and re-INVITEs the caller to it: the agents take the calls in turn.
    @Test func sippCallersIntoAnACDPathGoToTheLongestIdleAgentInTurn() async throws {
        let pbx = try await PBXProcess.start(extra: """
            acd:
              groups: [ { name: Sales agents, agents: ["7001", "7002", "7003"] } ]
              paths: [ { number: "5000", name: Sales, groups: [Sales agents] } ]
            """)
        defer { pbx.process.terminate() }
        var agents: [ExternalProcess] = []
        defer { for agent in agents { agent.terminate() } }
        let cti = CTIClient(port: pbx.ctiPort)
        for (agent, user) in [("7001", "2002"), ("7002", "2003"), ("7003", "2004")] {
            let port = ExternalProcess.freePort()
            let phone = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "answer", "--bind", "127.0.0.1:\(port)", "--calls", "100"], name: "agent-\(agent)")
            try await phone.waitForOutput("listening on", "sip answer \(user) to listen")
            agents.append(phone)
            try await SIPp.registerCallee(user, pbxPort: pbx.port, uasPort: port)
            let login = try await cti.request("POST", "agents/\(agent)/login", body: #"{"device": "\#(user)"}"#)
            #expect(login["status"] == .string("available"), "\(login.json)")
        }
        // 20 calls, one at a time.
        let twenty = try SIPp.start("uac_acd_caller.xml", remote: "127.0.0.1:\(pbx.port)", localPort: ExternalProcess.freePort(), service: "5000",
                                    extra: ["-au", "2001", "-ap", "pw2001", "-set", "caller", "2001", "-l", "1", "-r", "5"], calls: 20)
        try await SIPp.expectSuccess(twenty, within: 90)
        let records = try FeatureStore(directory: pbx.dataDirectory).records(after: 0).filter { $0.dialed == "5000" }
        let served = records.compactMap { record in record.path.firstIndex(of: "acd").map { record.path[$0 + 1] } }
        #expect(records.count == 20 && records.allSatisfy { $0.outcome == "answered" }, "\(records.map(\.outcome))")
        #expect(served == (0..<20).map { ["7001", "7002", "7003"][$0 % 3] }, "the agents in turn, longest idle first: \(served)")
        let paths = try await cti.request("GET", "paths")
        #expect(paths.array.first?.objectValue?["answered"] == .int(20))
    }

    /// The contact center's timers against real phones: SIPp callers into path 5001, whose first
    /// group's agent 7001 (a SIPp phone that rings and never answers) and whose second group's
    /// agent 7003 (`holdfast sip answer`) are logged in. The first call rings 7001 until the ring
    /// time (ring-no-answer: 7001 made busy, reason `no answer`), reaches the second group by the
    /// overflow timer and is answered by 7003, who goes into wrap-up after it and comes out by the
    /// work timer; a second call, with 7003 logged out and 7001 busy, goes to the interflow
    /// destination 2004 by its timer; a third caller hangs up waiting and is counted abandoned.
    @Test func sippCallersMeetRingNoAnswerOverflowWrapUpInterflowAndAbandon() async throws {
        let pbx = try await PBXProcess.start(extra: """
            acd:
              groups: [ { name: First, agents: ["7001"] }, { name: Second, agents: ["7003"], wrapUpSeconds: 3 } ]
              paths: [ { number: "5001", name: Support, groups: [First, Second], overflowSeconds: 3, ringSeconds: 5, interflow: { after: 8, to: "2004" } } ]
            """)
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let cti = CTIClient(port: pbx.ctiPort)
        var phones: [ExternalProcess] = []
        defer { for phone in phones { phone.terminate() } }
        // 7001 at 2002: rings, never answers.
        let silentPort = ExternalProcess.freePort()
        let silent = try SIPp.start("uas_ring_no_answer.xml", remote: nil, localPort: silentPort, service: "2002")
        phones.append(silent)
        try await SIPp.registerCallee("2002", pbxPort: pbx.port, uasPort: silentPort)
        // 7003 at 2003 and the interflow destination 2004: phones that answer.
        for user in ["2003", "2004"] {
            let port = ExternalProcess.freePort()
            let phone = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "answer", "--bind", "127.0.0.1:\(port)", "--calls", "10"], name: "answer-\(user)")
            try await phone.waitForOutput("listening on", "sip answer \(user) to listen")
            phones.append(phone)
            try await SIPp.registerCallee(user, pbxPort: pbx.port, uasPort: port)
        }
        for (agent, device) in [("7001", "2002"), ("7003", "2003")] {
            #expect(try await cti.request("POST", "agents/\(agent)/login", body: #"{"device": "\#(device)"}"#)["status"] == .string("available"))
        }
        func queueLog() async throws -> [[String: JSONValue]] {
            try await cti.request("GET", "queue-log?after=0&limit=1000").array.compactMap(\.objectValue)
        }

        // 1. Ring-no-answer, overflow, answer by the second group, wrap-up.
        let first = try SIPp.start("uac_acd_caller.xml", remote: "127.0.0.1:\(pbx.port)", localPort: ExternalProcess.freePort(), service: "5001",
                                   extra: ["-au", "2001", "-ap", "pw2001", "-set", "caller", "2001"])
        try await SIPp.expectSuccess(first, within: 40)
        try await SIPp.expectSuccess(silent, within: 20)
        let busy = try await cti.request("GET", "agents/7001")
        #expect(busy["status"] == .string("makeBusy") && busy["reason"] == .string("no answer"), "7001 did not answer: \(busy.json)")
        _ = try await events.next("7003 in wrap-up", within: 10) { $0["type"] == "agent.changed" && $0["agent"] == "7003" && $0["status"] == "wrapUp" }
        _ = try await events.next("7003 out of wrap-up by the timer", within: 10) {
            $0["type"] == "agent.changed" && $0["agent"] == "7003" && $0["status"] == "available"
        }
        func steps() async throws -> [String] {
            try await queueLog().compactMap { line -> String? in
                let event = line["event"]?.stringValue ?? "", agent = line["agent"]?.stringValue ?? ""
                return event.hasPrefix("agent") ? nil : agent.isEmpty ? event : "\(event) \(agent)"
            }
        }
        var log = try await steps()
        let expected: [String] = ["enter", "offer 7001", "ringNoAnswer 7001", "offer 7003", "connect 7003", "complete 7003"]
        #expect(Array(log.prefix(6)) == expected, "the queue log of the first call: \(log)")
        let lines = try await queueLog()
        let offered = lines.first { $0["event"] == "offer" && $0["agent"] == "7003" }?["time"]?.stringValue
        let entered = lines.first { $0["event"] == "enter" }?["time"]?.stringValue
        if let offered, let entered, let a = try? Date(offered, strategy: .iso8601), let b = try? Date(entered, strategy: .iso8601) {
            #expect(a.timeIntervalSince(b) >= 4.5, "7003 (second group) was offered after 7001's ring time, past the overflow timer: \(a.timeIntervalSince(b)) s")
        }

        // 2. Nobody free: interflow to 2004 by its timer (the caller hears music while 2004 rings,
        // then 2004: two re-INVITEs, which `holdfast sip call` follows).
        _ = try await cti.request("POST", "agents/7003/logout")
        let second = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5001@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                      "--hangup-after", "12", "--json"], name: "interflowing-caller")
        _ = try await events.next("2004 takes the interflowed call", within: 20) { $0["type"] == "call.transferred" && $0["callee"] == "2004" }
        #expect(try await second.waitForExit(within: 20) == 0, "\(second.outputTail())")
        log = try await steps()
        #expect(log.contains("interflow"), "the second call interflowed: \(log)")
        let records = try FeatureStore(directory: pbx.dataDirectory).records(after: 0).filter { $0.dialed == "5001" }
        #expect(records.count == 2 && records.last?.path.contains("interflow") == true && records.last?.callee == "2004", "\(records.map { ($0.callee, $0.path) })")

        // 3. A caller who hangs up while waiting is counted abandoned.
        let third = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5001@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                     "--hangup-after", "2", "--json"], name: "abandoning-caller")
        _ = try await third.waitForExit(within: 20)
        let figures = try await cti.request("GET", "paths").array.first?.objectValue ?? [:]
        let counted: [JSONValue?] = [figures["answered"], figures["interflowed"], figures["abandoned"]]
        #expect(counted == [.int(1), .int(1), .int(1)], "answered, interflowed, abandoned: \(figures)")
        await events.close()
    }

    @Test func aBYEOnTheEarlyDialogStopsTheRinging() async throws {
        let pbx = try await PBXProcess.start()
        let uasPort = ExternalProcess.freePort()
        // 2003 rings and fails unless the CANCEL comes within 5 s (the ring timer is 20 s).
        let device = try SIPp.start("uas_ring_until_cancel.xml", remote: nil, localPort: uasPort, service: "2003")
        try await SIPp.registerCallee("2003", pbxPort: pbx.port, uasPort: uasPort)
        let caller = try Self.caller("uac_early_bye.xml", callee: "2003", pbx: pbx)
        try await SIPp.expectSuccess(caller, within: 30)
        try await SIPp.expectSuccess(device, within: 30)
        pbx.process.terminate()
        let records = try FeatureStore(directory: pbx.dataDirectory).records(after: 0)
        #expect(records.map(\.outcome) == ["cancelled"], "one CDR, cancelled: \(records)")
    }

    @Test func maxForwardsZeroPublishAndAReferOutsideACallAreRefusedFirst() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let sipp = try SIPp.start("uac_refused.xml", remote: "127.0.0.1:\(pbx.port)", localPort: ExternalProcess.freePort(), service: "2002")
        try await SIPp.expectSuccess(sipp, within: 30)
    }

    @Test func aRefusalIsRelayedWithItsWarning() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let uasPort = ExternalProcess.freePort()
        let device = try SIPp.start("uas_reject_488.xml", remote: nil, localPort: uasPort, service: "2003")
        try await SIPp.registerCallee("2003", pbxPort: pbx.port, uasPort: uasPort)
        let caller = try Self.caller("uac_expect_488.xml", callee: "2003", pbx: pbx)
        try await SIPp.expectSuccess(caller, within: 30)
        try await SIPp.expectSuccess(device, within: 30)
    }

    @Test func aReINVITEWithoutAnOfferGetsOneThroughTheCallServer() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let uasPort = ExternalProcess.freePort()
        // 2003 checks the call server's Contact names its port, re-INVITEs without SDP, needs an
        // offer in the 200, answers in its ACK, and hangs up.
        let device = try SIPp.start("uas_reinvite_without_offer.xml", remote: nil, localPort: uasPort, service: "2003")
        try await SIPp.registerCallee("2003", pbxPort: pbx.port, uasPort: uasPort)
        let caller = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2003@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                      "--hangup-after", "20", "--json"], name: "call-2003-reinvite")
        try await SIPp.expectSuccess(device, within: 30)
        // The device's BYE ended the caller's call well before its own 20 s.
        let status = try await caller.waitForExit(within: 10)
        #expect(status == 0, "the caller's call ended cleanly: \(caller.outputTail())")
    }
}
