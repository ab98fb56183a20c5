// SRTP (SDES keys over TLS) through the call server with real peers: baresip's srtp module and
// linphone (media_encryption=srtp, mandatory) call a Holdfast phone, both ends hear each other,
// and a capture of the loopback (tshark) holds no SIP in clear and no RTP payload that decodes to
// the tones sent. Policies: a user the call server requires to encrypt is refused plain offers
// both ways with a 488 that says why; a phone that requires SRTP without TLS says it cannot.

import Audio
import Foundation
import TestSupport
import Testing

/// tshark capturing the loopback with a capture filter into a file of its own, then read back.
struct LoopbackCapture {
    let file: URL
    let process: ExternalProcess

    static func start(filter: String) async throws -> LoopbackCapture {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-capture-\(UUID().uuidString).pcapng")
        // The test runner's threads block SIGTERM and SIGINT, and a child inherits that mask: a
        // tshark started so could not be stopped but by SIGKILL, which loses the file's end.
        // perl clears the mask before it becomes tshark.
        let clearMask = #"use POSIX; sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!"; exec @ARGV or die "exec: $!""#
        let process = try ExternalProcess("perl", ["-e", clearMask, "tshark", "-i", "lo", "-f", filter, "-w", file.path], name: "tshark")
        try await process.waitForOutput("Capturing on", "tshark to start capturing on lo")
        return LoopbackCapture(file: file, process: process)
    }

    func stop() async throws {
        // SIGTERM: tshark has dumpcap finish the file, and exits.
        kill(process.process.processIdentifier, SIGTERM)
        try await process.waitForExit(within: 15)
    }

    /// One line per packet of `fields` (tab-separated) for the packets `displayFilter` keeps.
    func read(_ displayFilter: String, fields: [String]) async throws -> [String] {
        let reader = try ExternalProcess("tshark", ["-r", file.path, "-Y", displayFilter, "-T", "fields"] + fields.flatMap { ["-e", $0] }, name: "tshark-read")
        try await reader.waitForExit(within: 60)
        let text = (try? String(contentsOf: reader.outputURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("Running as user") }
    }

    /// The raw bytes of the capture file (a text search for SIP that tshark would not dissect).
    var bytes: Data { (try? Data(contentsOf: file)) ?? Data() }
}

enum ToneInPayload {
    /// How much of a G.711 µ-law RTP payload's energy is at `frequency` (1 for a pure tone over
    /// a whole number of cycles, near 0 for noise such as an encrypted payload).
    static func share(_ packet: [UInt8], at frequency: Double) -> Double {
        guard packet.count >= 12 + 160, packet[0] >> 6 == 2 else { return 0 }
        let headerLength = 12 + 4 * Int(packet[0] & 0x0F)
        guard packet.count >= headerLength + 160 else { return 0 }
        let samples = PCMU().decode(Array(packet[headerLength..<headerLength + 160]))
        let energy = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
        guard energy > 0 else { return 0 }
        return AudioAnalysis.power(samples, at: frequency) / (energy * Double(samples.count) / 2)
    }

    static func hex(_ text: Substring) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while let next = text.index(index, offsetBy: 2, limitedBy: text.endIndex), index < text.endIndex {
            if let byte = UInt8(text[index..<next], radix: 16) { bytes.append(byte) }
            index = next
        }
        return bytes
    }
}

@Suite(.serialized, .realPeers) struct SRTPInteropTests {
    @Test func theToneCheckTellsATonePayloadFromNoise() {
        var tone = ToneSource(frequency: 700)
        let plain = [0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1] + PCMU().encode(tone.nextFrame())
        #expect(ToneInPayload.share(plain, at: 700) > 0.8)
        var generator = SystemRandomNumberGenerator()
        let noise = Array(plain[0..<12]) + (0..<160).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(ToneInPayload.share(noise, at: 700) < 0.2)
    }

    @Test func baresipCallsAHoldfastPhoneWithSRTPOverTLSAndTheWireShowsNeitherSIPNorTheTones() async throws {
        let pbx = try await PBXProcess.start(tls: true)
        let collab = try await CollabProcess.start(pbx: pbx, overTLS: true)
        defer {
            collab.process.terminate()
            pbx.process.terminate()
        }
        let tlsPort = try #require(pbx.tlsPort)
        let phone = try await PhoneProcess.start("2001", collab: collab, audio: ["--audio-in", "tone:700"], extra: "autoAnswer: true")
        defer { phone.process.terminate() }
        let states = phone.states()
        _ = try await states.next("2001 registered over TLS", within: 20) { $0.mode == "online" && $0.registered }
        await states.close()
        let rtp = ExternalProcess.freePort()
        let capture = try await LoopbackCapture.start(filter: "tcp port \(tlsPort) or udp portrange \(rtp)-\(rtp + 3) or udp port \(pbx.port)")
        let brook = try Baresip(number: "2002", pbxPort: tlsPort, sourceFrequency: 900, autoAnswer: false, trusting: pbx.caFile,
                                mediaenc: "srtp-mand", rtpPorts: rtp...(rtp + 3))
        let brookProcess = try brook.start(seconds: 9, commands: ["/dial sip:2001@127.0.0.1:\(tlsPort);transport=tls"])
        defer { brookProcess.terminate() }
        let watch = phone.states()
        let connected = try await watch.next("baresip's call connected at 2001", within: 20) { state in
            state["calls"]?.arrayValue?.contains { $0.objectValue?["state"] == "connected" } == true
        }
        await watch.close()
        let id = try #require(connected["calls"]?.arrayValue?.compactMap(\.objectValue).first { $0["state"] == "connected" }?["id"]?.stringValue)
        let call = try await phone.waitForCall(id, "SRTP arriving at 2001", within: 15) { $0.packetsReceived > 100 }
        let media = call["media"]?.objectValue
        #expect(media?["encryption"]?.stringValue?.hasPrefix("AES_CM_128_HMAC_SHA1_") == true, "the call is SRTP: \(String(describing: media))")
        #expect(media?["srtpRejected"]?.intValue == 0, "every RTP packet authenticated: \(String(describing: media))")
        // baresip sends an RTCP APP "PING" in clear as the call starts (and a BYE in clear at its
        // end): dropped as unauthenticated, never read.
        #expect((media?["srtcpRejected"]?.intValue ?? 99) <= 2, "\(String(describing: media))")
        try await brookProcess.waitForExit(within: 30)
        try await capture.stop()

        let brookLog = brookProcess.outputTail(200_000)
        #expect(brookLog.contains("Call established"), "\(brookLog.suffix(2000))")
        let brookHeard = try await Sox.roughFrequency(try brook.receivedRecording())
        #expect(abs(brookHeard - 700) < 35, "baresip decrypted 2001's tone: \(brookHeard) Hz")

        // The wire: the TLS port carries TLS records only, and no SIP crossed in clear anywhere.
        let tlsRecords = try await capture.read("tcp.port == \(tlsPort) && tls.record", fields: ["frame.number"])
        #expect(tlsRecords.count > 4, "the signalling was TLS: \(tlsRecords.count) records")
        let sipInClear = try await capture.read("sip", fields: ["frame.number"])
        #expect(sipInClear.isEmpty, "SIP in clear on the wire: \(sipInClear.prefix(5))")
        let raw = capture.bytes
        for marker in ["SIP/2.0", "INVITE sip:", "a=crypto"] {
            #expect(raw.range(of: Data(marker.utf8)) == nil, "'\(marker)' appears in the capture")
        }
        // The media: RTP packets both ways between the phone and baresip, none carrying a tone.
        let payloads = try await capture.read("udp.port >= \(rtp) && udp.port <= \(rtp + 3) && udp.payload", fields: ["udp.payload"])
            .map { ToneInPayload.hex(Substring($0)) }.filter { $0.count >= 12 + 160 && $0[0] >> 6 == 2 }
        #expect(payloads.count > 200, "RTP both ways in the capture: \(payloads.count) packets")
        let loudest = payloads.map { max(ToneInPayload.share($0, at: 700), ToneInPayload.share($0, at: 900)) }.max() ?? 1
        #expect(loudest < 0.3, "a payload decodes to a tone (share \(loudest)): the media is not encrypted")
    }

    @Test func linphoneWithMandatorySRTPCallsAHoldfastPhoneOverTLS() async throws {
        let pbx = try await PBXProcess.start(tls: true)
        let collab = try await CollabProcess.start(pbx: pbx, overTLS: true)
        defer {
            collab.process.terminate()
            pbx.process.terminate()
        }
        let tlsPort = try #require(pbx.tlsPort)
        let phone = try await PhoneProcess.start("2001", collab: collab, audio: ["--audio-in", "tone:700"], extra: "autoAnswer: true")
        defer { phone.process.terminate() }
        let states = phone.states()
        _ = try await states.next("2001 registered over TLS", within: 20) { $0.mode == "online" && $0.registered }
        await states.close()
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let ada = try Linphone.start("2002", pbxPort: tlsPort, transport: "tls", rootCA: pbx.caFile, frequency: 900, mediaEncryption: "srtp")
        defer { ada.process.terminate() }
        try await LinphoneInteropTests.registered(["2002"], events: events)
        ada.command("call sip:2001@127.0.0.1:\(tlsPort);transport=tls")
        try await ada.waitFor("Media streams established")
        let watch = phone.states()
        let connected = try await watch.next("linphone's call connected at 2001", within: 20) { state in
            state["calls"]?.arrayValue?.contains { $0.objectValue?["state"] == "connected" } == true
        }
        await watch.close()
        let id = try #require(connected["calls"]?.arrayValue?.compactMap(\.objectValue).first { $0["state"] == "connected" }?["id"]?.stringValue)
        let call = try await phone.waitForCall(id, "linphone's SRTP arriving at 2001", within: 15) { $0.packetsReceived > 50 }
        let media = call["media"]?.objectValue
        #expect(media?["encryption"]?.stringValue?.hasPrefix("AES_CM_128_HMAC_SHA1_") == true, "\(String(describing: media))")
        #expect(media?["srtpRejected"]?.intValue == 0, "\(String(describing: media))")
        ada.command("terminate \(try ada.callID())")
        _ = try await events.next("the call to end by linphone's BYE", within: 10) { $0["type"]?.stringValue == "call.ended" }
        await ada.stop()
        await events.close()
    }

    @Test func aUserWhoMustEncryptIsRefusedPlainCallsAndAPhoneRequiringSRTPWithoutTLSSaysWhy() async throws {
        let pbx = try await PBXProcess.start(users: #"  - { extension: "2005", name: Eve Secure, password: pw2005, mediaEncryption: required }"#)
        let collab = try await CollabProcess.start(pbx: pbx)
        defer {
            collab.process.terminate()
            pbx.process.terminate()
        }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let eve = try Baresip(number: "2005", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true)
        let eveProcess = try eve.start(seconds: 25, commands: [])
        defer { eveProcess.terminate() }
        _ = try await events.next("2005 registered", within: 15) { $0["type"] == "devices.changed" && $0["user"] == "2005" }
        // To 2005, a plain offer: refused before 2005 rings, with the reason.
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 700, autoAnswer: false)
        let brookProcess = try brook.start(seconds: 4, commands: ["/dial sip:2005@127.0.0.1:\(pbx.port)"])
        try await brookProcess.waitForExit(within: 30)
        #expect(brookProcess.outputTail(200_000).contains("488 Not Acceptable Here"), "\(brookProcess.outputTail(3000))")
        #expect(!eveProcess.outputTail(200_000).contains("Incoming call"), "2005 never rang")
        try await pbx.process.waitForOutput("2005 takes only encrypted calls", "the call server's log naming the refusal")
        // From 2005, a plain offer: refused at once.
        eveProcess.terminate()
        let eveCalling = try Baresip(number: "2005", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: false)
        let eveCall = try eveCalling.start(seconds: 4, commands: ["/dial sip:2002@127.0.0.1:\(pbx.port)"])
        try await eveCall.waitForExit(within: 30)
        #expect(eveCall.outputTail(200_000).contains("488 Not Acceptable Here"), "\(eveCall.outputTail(3000))")

        // A Holdfast phone that requires SRTP, with its call server over UDP, places no call and says why.
        let phone = try await PhoneProcess.start("2001", collab: collab, extra: "mediaEncryption: required")
        defer { phone.process.terminate() }
        let states = phone.states()
        _ = try await states.next("2001 registered over UDP", within: 20) { $0.mode == "online" && $0.registered }
        await states.close()
        let placed = try await phone.request("POST", "calls", json: #"{"to": "2002"}"#)
        #expect(placed.status == 409, "\(placed.json)")
        #expect("\(placed.json)".contains("SRTP keys are only sent over TLS"), "\(placed.json)")
        await events.close()
    }
}
