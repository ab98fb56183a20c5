// Busy lamps against SIPp (RFC 4235): a SIPp subscriber watching 2002 is NOTIFYed idle, then
// early with the caller while a call rings 2002 (a SIPp UAS that rings two seconds), confirmed
// once it answers, idle when it ends; a park slot's lamp lights while a call waits in it.

import CallServer
import Foundation
import TestSupport
import Testing
import Wire

@Suite(.serialized, .realPeers) struct BusyLampInteropTests {
    @Test func aSippWatcherSeesAnExtensionRingTalkAndGoIdle() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let uasPort = ExternalProcess.freePort()
        let uas = try SIPp.start("uas_ring_then_answer.xml", remote: nil, localPort: uasPort)
        defer { uas.terminate() }
        try await SIPp.registerCallee("2002", pbxPort: pbx.port, uasPort: uasPort)
        let watcher = try SIPp.start("uac_blf_subscribe.xml", remote: "127.0.0.1:\(pbx.port)", localPort: ExternalProcess.freePort(), service: "2002",
                                     extra: ["-au", "2001", "-ap", "pw2001", "-timeout", "60s"])
        defer { watcher.terminate() }
        // The call starts once the call server has the subscription (its lamp counts the watcher).
        let cti = CTIClient(port: pbx.ctiPort)
        @Sendable func lamp(_ number: String) async throws -> [String: JSONValue] {
            try await cti.request("GET", "lamps").array.first { $0.objectValue?["number"]?.stringValue == number }?.objectValue ?? [:]
        }
        try await withTimeout(15, "the watcher's subscription to 2002") {
            while try await lamp("2002")["watchers"] != .int(1) { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(try await lamp("2002")["state"] == .string("idle"))
        #expect(try await lamp("2004")["state"] == .string("unregistered"))
        let caller = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2002@127.0.0.1:\(pbx.port)", "--user", "2003", "--password", "pw2003",
                                                                      "--hangup-after", "2", "--json"], name: "call-2002")
        let answered = try await events.next(type: "call.answered", within: 15)
        #expect(answered["callee"] == .string("2002"))
        let busy = try await lamp("2002")
        #expect(busy["state"] == .string("busy") && busy["remote"] == .string("2003"), "\(busy)")
        _ = try await caller.waitForExit(within: 30)
        try await SIPp.expectSuccess(watcher, within: 30)
        await events.close()
    }
}
