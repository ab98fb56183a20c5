// The call server's signalling as third-party SIP software exercises it, each against SIPp or
// baresip: late offer, BYE on an early dialog, re-INVITE without an offer, refusals that must come
// before anything else (483, 405, 403), and failures relayed with their Warning.

import CallServer
import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct PBXSignallingTests {
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
