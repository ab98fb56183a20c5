// SIP over TLS through the call server with real peers: baresip registers and calls over TLS
// trusting the site's private CA, and a Holdfast phone provisioned for TLS registers, calls and
// is called over it; a phone pinning another certificate refuses the server and says why.

import Foundation
import TestSupport
import Testing
import TLSFiles

@Suite(.serialized, .realPeers) struct TLSInteropTests {
    @Test func baresipPhonesRegisterAndCallOverTLSWithAudioBothWays() async throws {
        let pbx = try await PBXProcess.start(tls: true)
        defer { pbx.process.terminate() }
        let tlsPort = try #require(pbx.tlsPort)
        #expect(pbx.process.outputTail().contains("TLS on \(tlsPort) (certificate SHA-256 "), "the start line names the port and the fingerprint to pin")
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let brook = try Baresip(number: "2002", pbxPort: tlsPort, sourceFrequency: 900, autoAnswer: true, trusting: pbx.caFile)
        let brookProcess = try brook.start(seconds: 12)
        let registered = try await events.next("2002 registered", within: 15) { $0["type"] == "devices.changed" && $0["user"] == "2002" }
        _ = registered
        let devices = try await CTIClient(port: pbx.ctiPort).request("GET", "users/2002/devices")
        #expect(devices.array.first?.objectValue?["transport"] == "TLS", "2002 registered over TLS: \(devices.array)")
        let ada = try Baresip(number: "2001", pbxPort: tlsPort, sourceFrequency: 700, autoAnswer: false, trusting: pbx.caFile)
        let adaProcess = try ada.start(seconds: 7, commands: ["/dial sip:2002@127.0.0.1:\(tlsPort);transport=tls"])
        try await adaProcess.waitForExit(within: 30)
        try await brookProcess.waitForExit(within: 30)
        let adaLog = adaProcess.outputTail(200_000)
        #expect(adaLog.contains("{0/TLS/v4} 200 OK"), "2001 registered over TLS: \(adaLog.suffix(2000))")
        #expect(adaLog.contains("Call established"), "2001's call: \(adaLog.suffix(2000))")
        let adaHeard = try await Sox.roughFrequency(try ada.receivedRecording())
        let brookHeard = try await Sox.roughFrequency(try brook.receivedRecording())
        #expect(abs(adaHeard - 900) < 45, "2001 heard \(adaHeard) Hz, expected 900")
        #expect(abs(brookHeard - 700) < 35, "2002 heard \(brookHeard) Hz, expected 700")
        await events.close()
    }

    @Test func aHoldfastPhoneProvisionedForTLSCallsAndIsCalledOverItAndAWrongPinIsRefused() async throws {
        let pbx = try await PBXProcess.start(tls: true)
        let collab = try await CollabProcess.start(pbx: pbx, overTLS: true)
        defer {
            collab.process.terminate()
            pbx.process.terminate()
        }
        let tlsPort = try #require(pbx.tlsPort)
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        // 2001 trusts the CA the collaboration server hands out at login; 2003 names it itself.
        let phone = try await PhoneProcess.start("2001", collab: collab, audio: ["--audio-in", "tone:700"])
        defer { phone.process.terminate() }
        let states = phone.states()
        _ = try await states.next("2001 registered over TLS", within: 20) { $0.mode == "online" && $0.registered }
        await states.close()
        let provisioned = phone.dataDirectory.appendingPathComponent("sip-ca.pem")
        #expect(try Data(contentsOf: provisioned) == Data(contentsOf: pbx.caFile), "the provisioned CA is the call server's")
        #expect((try FileManager.default.attributesOfItem(atPath: provisioned.path)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let brook = try Baresip(number: "2002", pbxPort: tlsPort, sourceFrequency: 900, autoAnswer: true, trusting: pbx.caFile).start(seconds: 30)
        defer { brook.terminate() }
        _ = try await events.next("2002 registered", within: 15) { $0["type"] == "devices.changed" && $0["user"] == "2002" }

        // Out: the phone calls 2002; audio arrives over the call.
        let placed = try await phone.request("POST", "calls", json: #"{"to": "2002"}"#)
        #expect(placed.status == 201, "\(placed.json)")
        let id = try #require(placed.json["id"]?.stringValue)
        _ = try await phone.waitForCall(id, "the call to 2002 connected with audio", within: 15) { $0.callState == "connected" && $0.packetsReceived > 25 }
        #expect(try await phone.request("POST", "calls/\(id)/end").status == 200)
        _ = try await events.next("the call ended", within: 10) { $0["type"] == "call.ended" }

        // In: the call server reaches the phone on its TLS registration (the phone listens for no TLS).
        let other = try await PhoneProcess.start("2003", collab: collab, audio: ["--audio-in", "tone:1300"], extra: "sipCA: \(pbx.caFile.path)")
        defer { other.process.terminate() }
        let otherStates = other.states()
        _ = try await otherStates.next("2003 registered over TLS", within: 20) { $0.mode == "online" && $0.registered }
        await otherStates.close()
        let watch = phone.states()
        let inbound = try await other.request("POST", "calls", json: #"{"to": "2001"}"#)
        #expect(inbound.status == 201, "\(inbound.json)")
        let ringing = try await watch.next("2003's call ringing at 2001", within: 15) { state in
            state["calls"]?.arrayValue?.contains { $0.objectValue?["state"] == "ringing" } == true
        }
        await watch.close()
        let ringingCall = try #require(ringing["calls"]?.arrayValue?.compactMap(\.objectValue).first { $0["state"] == "ringing" })
        #expect(ringingCall["remote"]?.objectValue?["number"] == "2003")
        let ringingID = try #require(ringingCall["id"]?.stringValue)
        #expect(try await phone.request("POST", "calls/\(ringingID)/answer").status < 300)
        _ = try await phone.waitForCall(ringingID, "2003's call connected with audio at 2001", within: 15) { $0.callState == "connected" && $0.packetsReceived > 25 }

        // A phone that pins another certificate does not register, and its log says why.
        let pinned = try await PhoneProcess.start("2004", collab: collab, extra: "sipFingerprint: \"SHA-256 \(String(repeating: "00:", count: 31))00\"")
        defer { pinned.process.terminate() }
        try await pinned.process.waitForOutput("registration failed", "2004's log naming the refused TLS connection")
        #expect(pinned.process.outputTail().contains("cannot connect to tls:127.0.0.1:\(tlsPort)") && pinned.process.outputTail().contains("CERTIFICATE_VERIFY_FAILED"), "\(pinned.process.outputTail())")
        let state = try await pinned.request("GET", "state")
        #expect(state.json["registration"]?.objectValue?["state"] != "registered", "\(String(describing: state.json["registration"]))")
        await events.close()
    }

    @Test func linphoneOverTLSCallsBaresipOverTLSAndHangsUp() async throws {
        let pbx = try await PBXProcess.start(tls: true)
        defer { pbx.process.terminate() }
        let tlsPort = try #require(pbx.tlsPort)
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let ada = try Linphone.start("2001", pbxPort: tlsPort, transport: "tls", rootCA: pbx.caFile, frequency: 700)
        defer { ada.process.terminate() }
        let brook = try Baresip(number: "2002", pbxPort: tlsPort, sourceFrequency: 900, autoAnswer: true, trusting: pbx.caFile)
        let brookProcess = try brook.start(seconds: 25)
        defer { brookProcess.terminate() }
        try await LinphoneInteropTests.registered(["2001", "2002"], events: events)
        let devices = try await CTIClient(port: pbx.ctiPort).request("GET", "users/2001/devices")
        #expect(devices.array.first?.objectValue?["transport"] == "TLS", "linphone registered over TLS: \(devices.array)")
        ada.command("call sip:2002@127.0.0.1:\(tlsPort);transport=tls")
        try await ada.waitFor("connected.")
        let answered = try await events.next(type: "call.answered", within: 10)
        #expect(answered["caller"] == .string("2001") && answered["callee"] == .string("2002"))
        try await ada.waitFor("Media streams established")
        // linphone's BYE goes over TLS to the Contact the call server gave it.
        ada.command("terminate \(try ada.callID())")
        let ended = try await events.next("the call to end by linphone's BYE", within: 10) { $0["type"]?.stringValue == "call.ended" }
        #expect(ended["caller"] == .string("2001"))
        await ada.stop()
        await events.close()
    }
}
