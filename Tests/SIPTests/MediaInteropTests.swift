// The media engine and the sip answer / sip call tools against real software: baresip both ways
// with tones checked in the recordings (sox), SIPp's RFC 2833 captures as digits, and our digits
// logged by baresip. Everything on 127.0.0.1.

import TestSupport
import Audio
import NIOPosix
import SIPMessage
@testable import SIP
import Foundation
import Testing

/// A baresip instance with its own configuration folder.
struct Baresip {
    let directory: URL
    let sipPort: Int

    /// `source` is the WAV baresip sends; `autoAnswer` makes it answer calls itself.
    init(sourceFrequency: Double, autoAnswer: Bool) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-baresip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("snd"), withIntermediateDirectories: true)
        sipPort = ExternalProcess.freePort()
        var tone = ToneSource(frequency: sourceFrequency)
        // baresip hangs up when its aufile source ends, so the source (2 minutes) outlasts any test's call.
        try WAV.write((0..<6_000).flatMap { _ in tone.nextFrame() }, to: directory.appendingPathComponent("source.wav"))
        let config = """
        poll_method epoll
        sip_listen 127.0.0.1:\(sipPort)
        sip_trans_def udp
        audio_player aufile,\(directory.path)/played.wav
        audio_source aufile,\(directory.path)/source.wav
        audio_alert aufile,\(directory.path)/source.wav
        audio_srate 8000
        audio_channels 1
        module_path /usr/lib/baresip/modules
        module stdio.so
        module g711.so
        module aufile.so
        module sndfile.so
        module_app account.so
        module_app menu.so
        snd_path \(directory.path)/snd
        net_interface 127.0.0.1
        rtp_ports 42000-42999

        """
        try config.write(to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        let account = "<sip:baresip@127.0.0.1>;regint=0" + (autoAnswer ? ";answermode=auto" : "") + "\n"
        try account.write(to: directory.appendingPathComponent("accounts"), atomically: true, encoding: .utf8)
    }

    /// `takesInput`: menu commands can be sent to it later (`send("/transfer …")`, its stdio module).
    func start(seconds: Int, commands: [String] = [], takesInput: Bool = false) throws -> ExternalProcess {
        var arguments = ["-f", directory.path, "-t", String(seconds)]
        for command in commands { arguments += ["-e", command] }
        return try ExternalProcess("baresip", arguments, name: "baresip", workingDirectory: directory, takesInput: takesInput)
    }

    /// The audio baresip received (its sndfile decoder dump).
    func receivedRecording() throws -> URL {
        let snd = directory.appendingPathComponent("snd")
        let files = try FileManager.default.contentsOfDirectory(atPath: snd.path).filter { $0.hasSuffix("-dec.wav") }
        guard let file = files.first else { throw ProcessFailure(description: "baresip wrote no decoder dump in \(snd.path)") }
        return snd.appendingPathComponent(file)
    }
}

enum Sox {
    /// The "Rough frequency" that `sox FILE -n stat` reports.
    static func roughFrequency(_ file: URL) async throws -> Double {
        try await stat(file, "Rough   frequency")
    }

    /// The "RMS     amplitude" (0–1) that `sox FILE -n stat` reports: near 0 for silence.
    static func rmsAmplitude(_ file: URL) async throws -> Double {
        try await stat(file, "RMS     amplitude")
    }

    /// The frequency with the most power (`sox FILE -n stat -freq`): unlike the rough frequency,
    /// a few concealed packets at the start of a stream do not move it.
    static func dominantFrequency(_ file: URL) async throws -> Double {
        let process = try ExternalProcess("sox", [file.path, "-n", "stat", "-freq"], name: "sox-freq")
        try await process.waitForExit(within: 30)
        let text = (try? String(contentsOf: process.outputURL, encoding: .utf8)) ?? ""
        var best: (frequency: Double, power: Double)?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 2, let frequency = Double(fields[0]), let power = Double(fields[1]), frequency > 50 else { continue }
            if power > (best?.power ?? 0) { best = (frequency, power) }
        }
        guard let best else { throw ProcessFailure(description: "sox printed no spectrum for \(file.path)") }
        return best.frequency
    }

    static func stat(_ file: URL, _ field: String) async throws -> Double {
        let process = try ExternalProcess("sox", [file.path, "-n", "stat"], name: "sox-stat")
        try await process.waitForExit(within: 30)
        let output = process.outputTail(10_000)
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let value = line.split(separator: " ").last.flatMap({ Double($0) }) else {
            throw ProcessFailure(description: "sox printed no \(field) for \(file.path):\n\(output)")
        }
        return value
    }
}

struct CallJSON: Decodable {
    var codec: String
    var packetsSent: Int
    var packetsReceived: Int
    var packetsLost: Int
    var dtmf: String
    var durationMs: Int
}

@Suite(.serialized, .realPeers) struct MediaInteropTests {
    static let holdfast = SIPCheckCommandTests.root.appendingPathComponent(".build/debug/holdfast").path

    func summaries(_ process: ExternalProcess) throws -> [CallJSON] {
        let text = try String(contentsOf: process.outputURL, encoding: .utf8)
        return text.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap { try? JSONDecoder().decode(CallJSON.self, from: Data($0.utf8)) }
    }

    func expectFrequency(_ file: URL, near expected: Double, _ what: String) async throws {
        let measured = try await Sox.roughFrequency(file)
        #expect(abs(measured - expected) <= expected * 0.05, "\(what): sox measured \(measured) Hz, expected about \(expected) Hz")
    }

    @Test func baresipCallsSipAnswerAndTonesCrossBothWays() async throws {
        let port = ExternalProcess.freePort()
        let record = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-answer-\(UUID()).wav")
        let answer = try ExternalProcess(Self.holdfast, ["sip", "answer", "--bind", "127.0.0.1:\(port)", "--tone", "1000", "--record", record.path, "--json"], name: "sip-answer")
        let baresip = try Baresip(sourceFrequency: 800, autoAnswer: false)
        let phone = try baresip.start(seconds: 5, commands: ["/dial sip:holdfast@127.0.0.1:\(port)"])
        try await phone.waitForExit(within: 30)
        #expect(try await answer.waitForExit(within: 30) == 0, "sip answer: \(answer.outputTail())")
        let call = try #require(try summaries(answer).first, "no JSON from sip answer: \(answer.outputTail())")
        #expect(call.codec == "PCMU")
        #expect(call.packetsReceived > 150, "baresip's RTP reached sip answer")
        #expect(call.packetsSent > 150)
        try await expectFrequency(record, near: 800, "what sip answer heard from baresip")
        try await expectFrequency(try baresip.receivedRecording(), near: 1000, "what baresip heard from sip answer")
    }

    @Test func sipCallReachesBaresipWhichLogsOurDigits() async throws {
        let baresip = try Baresip(sourceFrequency: 800, autoAnswer: true)
        let phone = try baresip.start(seconds: 8)
        let record = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-call-\(UUID()).wav")
        // baresip needs a moment to listen; sip call retransmits the INVITE (Timer A) until it does.
        let call = try ExternalProcess(Self.holdfast, ["sip", "call", "sip:baresip@127.0.0.1:\(baresip.sipPort)", "--tone", "600",
                                                       "--record", record.path, "--dtmf", "159", "--hangup-after", "3", "--json"], name: "sip-call")
        #expect(try await call.waitForExit(within: 30) == 0, "sip call: \(call.outputTail())")
        try await phone.waitForExit(within: 30)
        let summary = try #require(try summaries(call).first, "no JSON from sip call: \(call.outputTail())")
        #expect(summary.packetsReceived > 100)
        let log = phone.outputTail(200_000)
        for digit in ["1", "5", "9"] {
            #expect(log.contains("received event: '\(digit)' (end=1)"), "baresip did not log digit \(digit)")
        }
        try await expectFrequency(record, near: 800, "what sip call heard from baresip")
        try await expectFrequency(try baresip.receivedRecording(), near: 600, "what baresip heard from sip call")
    }

    @Test func sippRFC2833CapturesArriveAsDigits() async throws {
        let port = ExternalProcess.freePort()
        let answer = try ExternalProcess(Self.holdfast, ["sip", "answer", "--bind", "127.0.0.1:\(port)", "--json"], name: "sip-answer-dtmf")
        let sipp = try SIPp.start("uac_dtmf_pcap.xml", remote: "127.0.0.1:\(port)", localPort: ExternalProcess.freePort(),
                                  extra: ["-mp", String(ExternalProcess.freePort() & ~1)])
        try await SIPp.expectSuccess(sipp)
        #expect(try await answer.waitForExit(within: 30) == 0)
        let call = try #require(try summaries(answer).first, "no JSON from sip answer: \(answer.outputTail())")
        #expect(call.dtmf == "159")
        #expect(call.codec == "PCMA", "SIPp offered PCMA first")
    }

    @Test func unsupportedWAVIsAnErrorBeforeAnyCall() async throws {
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-bad-\(UUID()).wav")
        try Data("not a wav".utf8).write(to: bad)
        let call = try ExternalProcess(Self.holdfast, ["sip", "call", "sip:nobody@127.0.0.1:9", "--play", bad.path], name: "sip-call-bad")
        #expect(try await call.waitForExit(within: 30) != 0)
        #expect(call.outputTail().contains("is not a RIFF/WAVE file"))
    }
}

@Suite(.serialized, .realPeers) struct NegotiationFailureTests {
    @Test func offerWithNoCommonCodecGets488WithAWarning() async throws {
        let port = ExternalProcess.freePort()
        let answer = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "answer", "--bind", "127.0.0.1:\(port)", "--json"], name: "sip-answer-488")
        defer { answer.terminate() }
        let transport = SIPTransport(group: MultiThreadedEventLoopGroup.singleton)
        try await transport.listen(.udp, host: "127.0.0.1", port: 0)
        let stack = SIPStack(transport: transport)
        await stack.start()
        let ua = UserAgent(stack: stack, identity: .init(user: "tester", domain: "127.0.0.1"), delegate: TestUASDelegate())
        var invite = await ua.makeInitialRequest(.invite, to: try SIPURI("sip:x@127.0.0.1:\(port)"), kind: .udp)
        let g722Only = "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n"
        invite.setBody(Array(g722Only.utf8), contentType: .sdp)
        // sip answer may still be starting: its socket appears within the INVITE's retransmissions.
        var final: SIPResponse?
        for try await response in await stack.send(invite, to: SIPTarget(kind: .udp, host: "127.0.0.1", port: port)) where response.isFinal {
            final = response
            break
        }
        let response = try #require(final)
        #expect(response.statusCode == 488)
        #expect(response.headers[.warning]?.contains("no common codec (offered: G722") == true, "Warning: \(response.headers[.warning] ?? "none")")
        await stack.shutdown()
    }
}
