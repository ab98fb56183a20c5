// The call server's media services against real phones: baresip dials the echo test and hears
// itself, inside the call server and on a `holdfast media` host of its own; a baresip held through
// CTI hears music instead of silence.

import Audio
import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct MediaServiceTests {
    /// A `holdfast media` process on a free port.
    static func startMediaHost(musicOnHold: URL? = nil) async throws -> (ExternalProcess, Int) {
        let port = ExternalProcess.freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-media-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("media.yaml")
        try "host: 127.0.0.1\nport: \(port)\nrtpPorts: 43000-43999\n\(musicOnHold.map { "musicOnHold: \($0.path)\n" } ?? "")"
            .write(to: config, atomically: true, encoding: .utf8)
        let process = try ExternalProcess(MediaInteropTests.holdfast, ["media", "--config", config.path], name: "media", workingDirectory: directory)
        try await process.waitForOutput("media: SIP on", "the media host to start")
        return (process, port)
    }

    /// baresip 2001 dials `*43` and records what comes back.
    func dialEchoTest(pbx: PBXProcess) async throws -> Double {
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let ada = try Baresip(number: "2001", pbxPort: pbx.port, sourceFrequency: 700, autoAnswer: false)
        let adaProcess = try ada.start(seconds: 6, commands: ["/dial sip:*43@127.0.0.1:\(pbx.port)"])
        let answered = try await events.next("the echo test answered", within: 10) { $0["type"]?.stringValue == "call.answered" }
        #expect(answered["callee"] == .string("*43"), "\(answered)")
        try await adaProcess.waitForExit(within: 30)
        await events.close()
        return try await Sox.roughFrequency(try ada.receivedRecording())
    }

    @Test func baresipDialsTheEchoTestAndHearsItself() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let heard = try await dialEchoTest(pbx: pbx)
        #expect(abs(heard - 700) < 35, "2001 heard \(heard) Hz from *43, expected its own 700 Hz")
    }

    @Test func theEchoTestRunsOnAMediaHostOfItsOwn() async throws {
        let (media, mediaPort) = try await Self.startMediaHost()
        defer { media.terminate() }
        let pbx = try await PBXProcess.start(extra: "media: { remote: \"127.0.0.1:\(mediaPort)\" }")
        defer { pbx.process.terminate() }
        let heard = try await dialEchoTest(pbx: pbx)
        #expect(abs(heard - 700) < 35, "2001 heard \(heard) Hz from *43 on the media host, expected 700 Hz")
        #expect(media.outputTail().contains("service answers"), "the media host answered: \(media.outputTail())")
    }

    @Test func anIncompleteFeatureCodeGets484AndAnUnknownNumber404() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        for (number, status) in [("*4", "484"), ("9999", "404")] {
            let call = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:\(number)@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001", "--json"],
                                           name: "call-\(status)")
            _ = try await call.waitForExit(within: 20)
            #expect(call.outputTail().contains(status), "\(number): \(call.outputTail())")
        }
    }

    @Test func aPartyHeldThroughCTIHearsMusic() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        // Both ends send silence and record: whatever the held one hears is the call server's music.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-moh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let heldHeard = directory.appendingPathComponent("held.wav"), holderHeard = directory.appendingPathComponent("holder.wav")
        let uasPort = ExternalProcess.freePort()
        let brook = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "answer", "--bind", "127.0.0.1:\(uasPort)", "--record", heldHeard.path, "--calls", "1"],
                                        name: "answer-2002")
        try await brook.waitForOutput("127.0.0.1:\(uasPort)", "sip answer to listen")
        try await SIPp.registerCallee("2002", pbxPort: pbx.port, uasPort: uasPort)
        let ada = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2002@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                   "--record", holderHeard.path, "--hangup-after", "6", "--json"], name: "call-2002-moh")
        let answered = try await events.next(type: "call.answered", within: 10)
        guard case .string(let id)? = answered["call"] else { Issue.record("no call id: \(answered)"); return }
        let cti = CTIClient(port: pbx.ctiPort)
        let held = try await cti.request("POST", "calls/\(id)/hold", body: #"{"party": "2001"}"#)
        #expect(held.status == 200, "\(held.json)")
        _ = try await events.next(type: "call.held", within: 10)
        try await Task.sleep(for: .seconds(3))  // three seconds of music
        let retrieved = try await cti.request("POST", "calls/\(id)/retrieve", body: #"{"party": "2001"}"#)
        #expect(retrieved.status == 200, "the held phone accepted the retrieve after the music: \(retrieved.json)")
        #expect(try await ada.waitForExit(within: 20) == 0, "\(ada.outputTail())")
        try await brook.waitForExit(within: 20)
        await events.close()
        let heldLevel = try await Sox.rmsAmplitude(heldHeard)
        let heldTone = try await Sox.roughFrequency(heldHeard)
        let holderLevel = try await Sox.rmsAmplitude(holderHeard)
        #expect(heldLevel > 0.01 && heldTone > 300 && heldTone < 1000, "2002, held, heard the built-in tune: RMS \(heldLevel), \(heldTone) Hz")
        #expect(holderLevel < 0.002, "2001, who held, heard silence (RMS \(holderLevel)): the music went to the held party only")
    }
}
