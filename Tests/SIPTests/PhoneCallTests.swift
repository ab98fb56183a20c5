// Calls on the softphone with real peers (baresip through the call server, holdfast sip call):
// audio both ways; the collaboration server killed mid-call changes nothing in the call (RTP keeps
// flowing, hold, retrieve, mute, DTMF, end still work) while transfer is refused with the
// capability; after its return transfer works again with no action on the phone.

import Audio
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NIOCore
import NIOPosix
import Testing
import TestSupport
import Wire

@Suite(.serialized, .realPeers) struct PhoneCallTests {
    /// baresip as 2002 (900 Hz, answering by itself if `brookAnswers`) and 2003 (1,300 Hz,
    /// answering), registered: the Holdfast phone may have registered before the event stream
    /// opened, so only theirs are awaited (its own state says when it is).
    static func baresipPhones(pbx: PBXProcess, events: EventStreamClient, brookAnswers: Bool) async throws -> (ExternalProcess, ExternalProcess) {
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: brookAnswers).start(seconds: 40)
        let cy = try Baresip(number: "2003", pbxPort: pbx.port, sourceFrequency: 1300, autoAnswer: true).start(seconds: 40)
        var registered: Set<String> = []
        while !registered.isSuperset(of: ["2002", "2003"]) {
            if case .string(let user)? = try await events.next(type: "devices.changed", within: 15)["user"] { registered.insert(user) }
        }
        return (brook, cy)
    }

    /// The office these tests share: a call server with its event stream open, a collaboration
    /// server (optionally giving a border proxy), the Holdfast phone 2001 online and registered,
    /// and, unless `baresip` is nil, baresip 2002 (answering by itself if `baresip` is true) and 2003.
    struct Office {
        let pbx: PBXProcess
        var collab: CollabProcess
        let phone: PhoneProcess
        let events: EventStreamClient
        let baresips: [ExternalProcess]

        static func start(audio: [String] = ["--audio-in", "tone:700"], phoneExtra: String = "", baresip brookAnswers: Bool? = true,
                          borderProxy: Int? = nil) async throws -> Office {
            let pbx = try await PBXProcess.start()
            let collab = try await CollabProcess.start(pbx: pbx, borderProxy: borderProxy)
            let phone = try await PhoneProcess.start("2001", collab: collab, audio: audio, extra: phoneExtra)
            let events = EventStreamClient(port: pbx.ctiPort)
            _ = try await events.next(type: "hello")
            var baresips: [ExternalProcess] = []
            if let brookAnswers {
                let (brook, cy) = try await PhoneCallTests.baresipPhones(pbx: pbx, events: events, brookAnswers: brookAnswers)
                baresips = [brook, cy]
            }
            let states = phone.states()
            _ = try await states.next("2001 online and registered", within: 15) { $0.mode == "online" && $0.registered }
            await states.close()
            return Office(pbx: pbx, collab: collab, phone: phone, events: events, baresips: baresips)
        }

        var brook: ExternalProcess { baresips[0] }

        func stop() {
            baresips.forEach { $0.terminate() }
            phone.process.terminate()
            collab.process.terminate()
            pbx.process.terminate()
        }
    }

    @Test func anINVITEStraightToThePhoneFromAnyoneButItsCallServersIsRefused() async throws {
        let sipPort = ExternalProcess.freePort()
        let office = try await Office.start(phoneExtra: "sipPort: \(sipPort)", baresip: nil)
        defer { office.stop() }
        let spoofer = try await RawUDPPeer(group: MultiThreadedEventLoopGroup.singleton, host: "127.0.0.2")
        let invite = """
        INVITE sip:2001@127.0.0.1:\(sipPort) SIP/2.0\r
        Via: SIP/2.0/UDP 127.0.0.2:\(spoofer.port);branch=z9hG4bKspoof;rport\r
        Max-Forwards: 70\r
        From: "Bank Security Dept" <sip:security@bank.example>;tag=spoof\r
        To: <sip:2001@127.0.0.1>\r
        Call-ID: spoof@127.0.0.2\r
        CSeq: 1 INVITE\r
        Content-Length: 0\r
        \r

        """
        try await spoofer.send(invite, to: try SocketAddress(ipAddress: "127.0.0.1", port: sipPort))
        let reply = try await spoofer.received.first(within: 10, "the phone's answer") { _ in true }
        #expect(String(decoding: reply.prefix(30), as: UTF8.self).hasPrefix("SIP/2.0 403"), "\(String(decoding: reply, as: UTF8.self))")
        let state = try await office.phone.request("GET", "state")
        #expect(state.json["calls"]?.arrayValue?.isEmpty == true, "nothing rang: \(String(describing: state.json["calls"]))")
        #expect(state.json["sipRefused"] == .int(1), "counted")
        // The API token in a URL opens WebSockets only, not plain requests.
        let inURL = URLRequest(url: URL(string: "http://127.0.0.1:\(office.phone.apiPort)/api/state?token=\(office.phone.token)")!)
        let (_, response) = try await URLSession.shared.data(for: inURL)
        #expect((response as? HTTPURLResponse)?.statusCode == 401, "?token= on a plain GET")
        await spoofer.close()
    }

    @Test func aCallOutlivesTheCollaborationServerAndTransferComesBackWithIt() async throws {
        let heard = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-phone-heard-\(UUID().uuidString).wav")
        var office = try await Office.start(audio: ["--audio-in", "tone:700", "--audio-out", "file:\(heard.path)"])
        defer { office.stop() }
        let (pbx, phone, events) = (office.pbx, office.phone, office.events)
        let states = phone.states()

        let placed = try await phone.request("POST", "calls", json: #"{"to": "2002"}"#)
        #expect(placed.status == 201, "\(placed.json)")
        let id = try #require(placed.json["id"]?.stringValue)
        let connected = try await phone.waitForCall(id, "the call connected with audio", within: 15) { $0.callState == "connected" && $0.packetsReceived > 25 }
        #expect(connected["remote"]?.objectValue?["name"] == "Brook Taylor")
        #expect(connected["capabilities"]?.objectValue?["call.transfer"] == true)

        // The collaboration server dies in the middle of the call.
        kill(office.collab.process.process.processIdentifier, SIGKILL)
        _ = try await office.collab.process.waitForExit(within: 10)
        _ = try await states.next("limited functionality", within: 3) { $0.mode == "offline" }
        let before = try #require(try await phone.call(id)).packetsReceived
        let during = try await phone.waitForCall(id, "audio still arriving", within: 5) { $0.packetsReceived > before + 50 }
        #expect(during.callState == "connected")
        #expect(during["capabilities"]?.objectValue?["call.transfer"] == false && during["capabilities"]?.objectValue?["call.hold"] == true)
        let refused = try await phone.request("POST", "calls/\(id)/transfer", json: #"{"to": "2003"}"#)
        #expect(refused.status == 409 && refused.json["capability"] == "call.transfer" && refused.json["reason"] == "server_offline", "\(refused.json)")
        #expect(try await phone.request("POST", "calls/\(id)/hold").status == 200)
        #expect(try await phone.call(id)?.callState == "held")
        #expect(try await phone.request("POST", "calls/\(id)/retrieve").status == 200)
        #expect(try await phone.call(id)?.callState == "connected")
        #expect(try await phone.request("POST", "calls/\(id)/mute").status == 200)
        #expect(try await phone.call(id)?["muted"] == true)
        #expect(try await phone.request("POST", "calls/\(id)/unmute").status == 200)
        #expect(try await phone.request("POST", "calls/\(id)/dtmf", json: #"{"digits": "123"}"#).status == 200)
        #expect(try await phone.request("POST", "calls/\(id)/volume", json: #"{"level": 0.5}"#).status == 200)
        let badVolume = try await phone.request("POST", "calls/\(id)/volume", json: #"{"level": 9}"#)
        #expect(badVolume.status == 400 && badVolume.json["field"] == "level")

        // It comes back: transfer is offered again, and works, with nothing done on the phone.
        office.collab = try await CollabProcess.start(pbx: pbx, dataDirectory: office.collab.dataDirectory, port: office.collab.port)
        _ = try await states.next("online again", within: 20) { $0.mode == "online" }
        let after = try await phone.waitForCall(id, "transfer offered again", within: 5) { $0["capabilities"]?.objectValue?["call.transfer"] == true }
        #expect(after.callState == "connected")
        let transfer = try await phone.request("POST", "calls/\(id)/transfer", json: #"{"to": "2003"}"#)
        let liveCalls = try await CTIClient(port: pbx.ctiPort).request("GET", "calls").array
        #expect(transfer.status == 202, "\(transfer.json) \(liveCalls)")
        let transferred = try await events.next(type: "call.transferred", within: 15)
        #expect(transferred["callee"] == "2003" || transferred["caller"] == "2003", "\(transferred)")
        _ = try await phone.waitForCall(id, "2001's leg ended by the transfer", within: 10) { $0.callState == "ended" }
        let audio = try WAV.read(heard)
        #expect(audio.count > 8000, "2001 recorded \(audio.count) samples")
        let middle = Array(audio.dropFirst(audio.count / 4).prefix(8000))
        #expect(abs(AudioAnalysis.dominantFrequency(middle) - 900) < 30, "2001 heard 2002's tone: \(AudioAnalysis.dominantFrequency(middle)) Hz")
        await states.close()
        await events.close()
    }

    @Test func offlineAnIncomingCallRingsWithTheCallersNameAndTheNotificationWhateverTheSetting() async throws {
        let office = try await Office.start(phoneExtra: "showCallPopup: false", baresip: nil)
        defer { office.stop() }
        let (pbx, collab, phone) = (office.pbx, office.collab, office.phone)
        collab.process.terminate()
        _ = try await collab.process.waitForExit(within: 10)
        let watch = phone.states()
        _ = try await watch.next("limited functionality", within: 5) { $0.mode == "offline" }
        let caller = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2001@127.0.0.1:\(pbx.port)", "--user", "2002", "--password", "pw2002",
                                                                      "--tone", "1000", "--hangup-after", "2", "--json"], name: "call-2001")
        let ringing = try await watch.next("a ringing call", within: 15) { state in
            state["calls"]?.arrayValue?.contains { $0.objectValue?["state"] == "ringing" } == true
        }
        let call = try #require(ringing["calls"]?.arrayValue?.first?.objectValue)
        #expect(call["remote"]?.objectValue?["number"] == "2002" && call["remote"]?.objectValue?["name"] == "Brook Taylor",
                "identity from P-Asserted-Identity, name also in the cached directory")
        #expect(call["notification"]?.objectValue?["shown"] == true && call["notification"]?.objectValue?["reason"] == "offline",
                "offline the notification is shown although showCallPopup is off: \(call)")
        #expect(call["capabilities"]?.objectValue?["call.answer"] == true && call["capabilities"]?.objectValue?["call.redirect"] == false)
        let id = try #require(call["id"]?.stringValue)
        #expect(try await phone.request("POST", "calls/\(id)/answer").status == 200)
        _ = try await phone.waitForCall(id, "connected with audio", within: 10) { $0.callState == "connected" && $0.packetsReceived > 10 }
        #expect(try await caller.waitForExit(within: 20) == 0, "\(caller.outputTail())")
        _ = try await phone.waitForCall(id, "ended by the caller", within: 10) { $0.callState == "ended" }
        #expect(caller.outputTail().range(of: #""packetsReceived" *: *[1-9]"#, options: .regularExpression) != nil, "the caller heard the phone: \(caller.outputTail())")
        await watch.close()
    }

    /// CANCEL end to end: the phone gives up on a call ringing at baresip (its CANCEL must carry the
    /// INVITE's branch to match, as must the call server's CANCEL of its leg to baresip); then a
    /// call ringing unanswered at the phone is forwarded on no answer (the 487 of the cancelled
    /// ringing must not end the call before it reaches the forwarding target).
    @Test func aCancelledCallStopsRingingAndAnUnansweredOneIsForwarded() async throws {
        let office = try await Office.start(baresip: false)
        defer { office.stop() }
        let (pbx, phone, events, brookProcess) = (office.pbx, office.phone, office.events, office.brook)

        let placed = try await phone.request("POST", "calls", json: #"{"to": "2002"}"#)
        let id = try #require(placed.json["id"]?.stringValue)
        _ = try await events.next(type: "call.ringing", within: 10)
        try await withTimeout(10, "baresip 2002 to ring") {
            while !brookProcess.outputTail(20_000).contains("Incoming call") { try await Task.sleep(for: .milliseconds(20)) }
        }
        let ended = try await phone.request("POST", "calls/\(id)/end")
        #expect(ended.status == 200, "\(ended.json)")
        #expect(try await phone.call(id)?.callState == "ended")
        let record = try await events.next(type: "call.ended", within: 10)
        #expect(record["outcome"] == "cancelled", "\(record)")
        try await withTimeout(10, "baresip 2002 to stop ringing on the CANCEL") {
            while !brookProcess.outputTail(20_000).contains("session closed") { try await Task.sleep(for: .milliseconds(20)) }
        }

        // Unanswered at 2001 for 5 s: "If I do not answer" takes the call to baresip 2003.
        let set = try await CTIClient(port: pbx.ctiPort).request("PATCH", "users/2001/features", body: #"{"forwardNoAnswer": "2003", "noAnswerSeconds": 5}"#)
        #expect(set.status == 200, "\(set.json)")
        let caller = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2001@127.0.0.1:\(pbx.port)", "--user", "2004", "--password", "pw2004",
                                                                      "--tone", "1000", "--hangup-after", "2", "--json"], name: "call-2001-unanswered")
        let forwarded = try await events.next(type: "call.forwarded", within: 15)
        #expect(forwarded["from"] == "2001" && forwarded["to"] == "2003" && forwarded["reason"] == "forwardNoAnswer", "\(forwarded)")
        #expect(try await caller.waitForExit(within: 30) == 0, "the caller reached 2003: \(caller.outputTail())")
        let answered = try await events.next(type: "call.answered", within: 5)
        #expect(answered["callee"] == "2003", "\(answered)")
    }

    /// DTMF to a far end with no telephone-event (SIPp answering with PCMU only, registered as
    /// 2003): the phone falls back to one SIP INFO per digit, in order, relayed by the call
    /// server; SIPp fails the call unless it sees 1, 2, # that way. A digit SIPp sends by INFO
    /// shows on the phone's call.
    @Test func dtmfFallsBackToSIPInfoWhenTheFarEndHasNoTelephoneEvent() async throws {
        let office = try await Office.start(audio: [], baresip: nil)
        defer { office.stop() }
        let (pbx, phone) = (office.pbx, office.phone)
        let uasPort = ExternalProcess.freePort()
        let uas = try SIPp.start("uas_info_dtmf.xml", remote: nil, localPort: uasPort, service: "2003")
        defer { uas.terminate() }
        try await SIPp.registerCallee("2003", pbxPort: pbx.port, uasPort: uasPort)

        let placed = try await phone.request("POST", "calls", json: #"{"to": "2003"}"#)
        let id = try #require(placed.json["id"]?.stringValue, "\(placed.json)")
        let connected = try await phone.waitForCall(id, "the call to SIPp connected", within: 15) { $0.callState == "connected" }
        #expect(connected["media"]?.objectValue?["dtmfSending"] == "info", "\(connected)")
        let sent = try await phone.request("POST", "calls/\(id)/dtmf", json: #"{"digits": "12#"}"#)
        #expect(sent.status == 200, "\(sent.json)")
        let heard = try await phone.waitForCall(id, "SIPp's INFO digit on the call", within: 10) {
            $0["media"]?.objectValue?["dtmfReceived"] == "5"
        }
        #expect(heard.callState == "connected")
        #expect(try await phone.request("POST", "calls/\(id)/end").status == 200)
        try await SIPp.expectSuccess(uas)
    }

    /// Recording: a recorded call's WAV (both parties: our 700 Hz and baresip's 900 Hz) reaches
    /// the collaboration server's store when recording stops. The server killed while recording:
    /// recording stops and the call goes on; with policy `keep` the partial file waits on the phone
    /// and goes up when the server is back; with `discard` it is deleted.
    @Test func aRecordingReachesTheServerAndOnServerLossIsKeptOrDiscardedByPolicy() async throws {
        var office = try await Office.start(phoneExtra: "recordingPolicy: keep")
        defer { office.stop() }
        let (pbx, phone) = (office.pbx, office.phone)
        let states = phone.states()

        let placed = try await phone.request("POST", "calls", json: #"{"to": "2002"}"#)
        let id = try #require(placed.json["id"]?.stringValue, "\(placed.json)")
        _ = try await phone.waitForCall(id, "the call connected with audio", within: 15) { $0.callState == "connected" && $0.packetsReceived > 25 }

        // Online: record two seconds, stop; the server has it.
        #expect(try await phone.request("POST", "calls/\(id)/record").status == 200)
        let started = try #require(try await phone.call(id))
        #expect(started["recording"] == true, "\(started)")
        _ = try await phone.waitForCall(id, "two seconds recorded", within: 10) { $0.packetsReceived > started.packetsReceived + 100 }
        #expect(try await phone.request("POST", "calls/\(id)/record", json: #"{"stop": true}"#).status == 200)
        _ = try await states.next("the recording uploaded", within: 10) { $0.recordings("uploaded") == 1 && $0.recordings("pending") == 0 }
        let stored = try WAV.read(office.collab.dataDirectory.appendingPathComponent("recordings/1.wav"))
        #expect(stored.count >= 8000 * 3 / 2, "\(stored.count) samples")
        let absent = AudioAnalysis.power(stored, at: 1900)
        #expect(AudioAnalysis.power(stored, at: 700) > 100 * absent && AudioAnalysis.power(stored, at: 900) > 100 * absent,
                "both parties are in the recording")
        let bad = try await phone.request("POST", "calls/\(id)/record", json: #"{"stop": "soon"}"#)
        #expect(bad.status == 400 && bad.json["error"] == "invalid_value" && bad.json["field"] == "stop", "\(bad.json)")

        // Policy keep: the server dies while recording; the partial file waits for its return.
        #expect(try await phone.request("POST", "calls/\(id)/record").status == 200)
        let second = try #require(try await phone.call(id))
        _ = try await phone.waitForCall(id, "a second recorded", within: 10) { $0.packetsReceived > second.packetsReceived + 50 }
        kill(office.collab.process.process.processIdentifier, SIGKILL)
        _ = try await office.collab.process.waitForExit(within: 10)
        let offline = try await states.next("limited functionality, recording kept", within: 8) { $0.mode == "offline" && $0.recordings("pending") == 1 }
        let during = try #require(offline["calls"]?.arrayValue?.first?.objectValue)
        #expect(during.callState == "connected" && during["recording"] == false && during["capabilities"]?.objectValue?["call.record"] == false, "\(during)")
        let refused = try await phone.request("POST", "calls/\(id)/record")
        #expect(refused.status == 409 && refused.json["capability"] == "call.record" && refused.json["reason"] == "server_offline", "\(refused.json)")
        office.collab = try await CollabProcess.start(pbx: pbx, dataDirectory: office.collab.dataDirectory, port: office.collab.port)
        _ = try await states.next("back online, the kept recording uploaded", within: 20) {
            $0.mode == "online" && $0.recordings("uploaded") == 2 && $0.recordings("pending") == 0
        }
        #expect(try WAV.read(office.collab.dataDirectory.appendingPathComponent("recordings/2.wav")).count >= 8000 / 2)

        // Policy discard: the partial file is deleted.
        #expect(try await phone.request("PUT", "phone-settings", json: #"{"recordingPolicy": "discard"}"#).status == 200)
        #expect(try await phone.request("POST", "calls/\(id)/record").status == 200)
        let third = try #require(try await phone.call(id))
        _ = try await phone.waitForCall(id, "a third recording under way", within: 10) { $0.packetsReceived > third.packetsReceived + 50 }
        kill(office.collab.process.process.processIdentifier, SIGKILL)
        _ = try await office.collab.process.waitForExit(within: 10)
        _ = try await states.next("limited functionality, recording discarded", within: 8) { $0.mode == "offline" && $0.recordings("discarded") == 1 }
        let left = try FileManager.default.contentsOfDirectory(atPath: phone.dataDirectory.appendingPathComponent("recordings").path)
        #expect(left.isEmpty, "\(left)")
        #expect(try await phone.call(id)?.callState == "connected")
        #expect(try await phone.request("POST", "calls/\(id)/end").status == 200)
        await states.close()
    }

    /// Behind Kamailio as its border proxy (from provisioning): the phone registers through it
    /// (the call server keeps Kamailio as the Path, and the phone's RFC 5626 instance as the
    /// device), its keep-alive OPTIONS pass through it, its call to baresip goes out through it,
    /// and a call to it comes in through it, each with audio both ways.
    @Test func behindKamailioThePhoneRegistersKeepsItsFlowAliveAndCallsBothWays() async throws {
        let border = try await BorderProxy.start()
        let office = try await Office.start(borderProxy: border.port)
        defer { office.stop() }
        let (pbx, phone, events) = (office.pbx, office.phone, office.events)

        let devices = try await CTIClient(port: pbx.ctiPort).request("GET", "users/2001/devices")
        let device = try #require(devices.array.first?.objectValue, "\(devices.json)")
        let instance = try String(contentsOf: phone.dataDirectory.appendingPathComponent("instance-id"), encoding: .utf8)
        #expect(device["device"]?.stringValue?.contains("urn:uuid:\(instance)") == true, "\(device)")
        let path = device["path"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(path.contains { $0.contains("127.0.0.1:\(border.port)") }, "Kamailio is the phone's Path: \(path)")
        try await withTimeout(10, "two keep-alive OPTIONS through Kamailio") {
            while border.process.outputTail(200_000).components(separatedBy: "border: OPTIONS to sip:127.0.0.1:\(pbx.port)").count < 3 {
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        let placed = try await phone.request("POST", "calls", json: #"{"to": "2002"}"#)
        let id = try #require(placed.json["id"]?.stringValue, "\(placed.json)")
        _ = try await phone.waitForCall(id, "the call out through Kamailio with audio", within: 15) { $0.callState == "connected" && $0.packetsReceived > 25 }
        #expect(border.process.outputTail(200_000).contains("border: INVITE to sip:2002@127.0.0.1:\(pbx.port)"))
        #expect(try await phone.request("POST", "calls/\(id)/end").status == 200)
        _ = try await events.next(type: "call.ended", within: 10)

        #expect(try await phone.request("PUT", "phone-settings", json: #"{"autoAnswer": true}"#).status == 200)
        let caller = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2001@127.0.0.1:\(pbx.port)", "--user", "2004", "--password", "pw2004",
                                                                      "--tone", "1000", "--hangup-after", "3", "--json"], name: "call-2001-through-kamailio")
        let incoming = try await withTimeout(10, "the call in through Kamailio") {
            while true {
                if let call = try await phone.calls().first(where: { $0["direction"] == "incoming" }), let id = call["id"]?.stringValue { return id }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        _ = try await phone.waitForCall(incoming, "the incoming call answered with audio", within: 10) { $0.callState == "connected" && $0.packetsReceived > 25 }
        #expect(try await caller.waitForExit(within: 20) == 0, "\(caller.outputTail())")
        #expect(caller.outputTail().range(of: #""packetsReceived" *: *[1-9]"#, options: .regularExpression) != nil, "the caller heard the phone: \(caller.outputTail())")
        let relayed = border.process.outputTail(200_000)
        #expect(relayed.split(separator: "\n").contains { $0.contains("border: INVITE to sip:2001@") }, "Kamailio relayed the INVITE to the phone: \(relayed.suffix(2000))")
        _ = try await phone.waitForCall(incoming, "the caller's BYE through Kamailio", within: 10) { $0.callState == "ended" }
        await events.close()
        try await border.stop()
    }
}
