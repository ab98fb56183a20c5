// The call server's media services against real phones: baresip dials the echo test and hears
// itself, inside the call server and on a `holdfast media` host of its own; a baresip held through
// CTI hears music instead of silence; callers waiting on an ACD path hear where they stand.

import Audio
import Foundation
import TestSupport
import Testing

@Suite(.serialized, .realPeers) struct MediaServiceTests {
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

    /// A prompt as shipped (the committed WAV), and the index where a stretch of its middle
    /// occurs in `heard`, sample for sample (G.711 carries it unchanged), if it does.
    static func prompt(_ name: String) throws -> [Int16] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try WAV.read(root.appendingPathComponent("Sources/MediaServices/Prompts/\(name).wav"))
    }

    static func find(_ prompt: [Int16], in heard: [Int16]) -> Int? {
        let needle = Array(prompt[(prompt.count / 2)..<(prompt.count / 2 + 80)])
        guard heard.count >= needle.count else { return nil }
        return (0...(heard.count - needle.count)).first { start in
            heard[start] == needle[0] && heard[start..<(start + needle.count)].elementsEqual(needle)
        }
    }

    @Test func callersWaitingOnAnACDPathHearTheirPositionAndItMovesUpWhenOneAheadLeaves() async throws {
        // Nobody logged in: both callers wait, announced every 5 s (the shortest allowed).
        let pbx = try await PBXProcess.start(extra: """
            acd:
              groups: [ { name: Sales agents, agents: ["7001"] } ]
              paths: [ { number: "5000", name: Sales, groups: [Sales agents], announceSeconds: 5 } ]
            """)
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-queue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let firstHeard = directory.appendingPathComponent("first.wav"), secondHeard = directory.appendingPathComponent("second.wav")
        let first = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5000@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                     "--record", firstHeard.path, "--hangup-after", "7", "--json"], name: "queue-first")
        _ = try await events.next("the first caller answered by the queue", within: 10) { $0["type"]?.stringValue == "call.answered" }
        let second = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5000@127.0.0.1:\(pbx.port)", "--user", "2002", "--password", "pw2002",
                                                                      "--record", secondHeard.path, "--hangup-after", "16", "--json"], name: "queue-second")
        #expect(try await first.waitForExit(within: 30) == 0, "\(first.outputTail())")
        #expect(try await second.waitForExit(within: 30) == 0, "\(second.outputTail())")
        await events.close()
        let one = try Self.prompt("n1"), two = try Self.prompt("n2"), callerNumber = try Self.prompt("caller-number")
        let heardFirst = try WAV.read(firstHeard), heardSecond = try WAV.read(secondHeard)
        #expect(Self.find(callerNumber, in: heardFirst) != nil, "the first caller heard 'You are caller number'")
        #expect(Self.find(one, in: heardFirst) != nil, "the first caller heard 'one'")
        #expect(Self.find(two, in: heardFirst) == nil, "the first caller never heard 'two'")
        let secondTwo = Self.find(two, in: heardSecond)
        #expect(secondTwo != nil, "the second caller heard 'two' while the first waited ahead of it")
        // After the first caller hung up, the second is told it moved up.
        let secondOne = Self.find(one, in: Array(heardSecond.dropFirst(secondTwo ?? 0)))
        #expect(secondOne != nil, "the second caller then heard 'one'")
        let paths = try await CTIClient(port: pbx.ctiPort).request("GET", "paths")
        #expect(paths.array.first?.objectValue?["abandoned"] == .int(2), "both callers hung up waiting: \(paths.json)")
    }
}
