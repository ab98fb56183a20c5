// The call server as a real process: baresip phones register and call through it with audio both
// ways; every RFC 4475 request gets the manifest's reply over UDP and TCP; a SIGKILL loses nothing.

import Audio
import CallServer
import Foundation
import TestSupport
import NIOCore
import NIOPosix
import SIPMessage
import Testing

/// A `holdfast pbx` process with the office users on a free port and its own data folder.
struct PBXProcess {
    let port: Int
    let ctiPort: Int
    /// SIP over TLS (nil: not asked for); its private CA is `caFile`.
    var tlsPort: Int? = nil
    let dataDirectory: URL
    let configURL: URL
    var process: ExternalProcess

    /// A call server on free ports; a secondary when it `follows` a primary.
    /// `extra` is more YAML for the configuration (media, numbering); `users`, more entries of the
    /// users list (each a `  - { … }` line).
    static func start(dataDirectory: URL? = nil, port: Int? = nil, ctiPort: Int? = nil, follows primary: PBXProcess? = nil,
                      extra: String = "", users: String = "", tls: Bool = false) async throws -> PBXProcess {
        let port = port ?? ExternalProcess.freePort()
        let tlsPort = tls ? ExternalProcess.freePort() : nil
        let ctiPort = ctiPort ?? ExternalProcess.freePort()
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-pbx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("pbx.yaml")
        try """
        domain: 127.0.0.1
        listen: { host: 127.0.0.1, port: \(port)\(tlsPort.map { ", tls: { port: \($0) }" } ?? "") }
        ringTimeout: 20
        users:
          - { extension: "2001", name: Ada Lovelace, password: pw2001, voicemailPIN: "12001" }
          - { extension: "2002", name: Brook Taylor, password: pw2002, voicemailPIN: "12002" }
          - { extension: "2003", name: Cy Young, password: pw2003, voicemailPIN: "12003" }
          - { extension: "2004", name: Dee Okafor, password: pw2004, voicemailPIN: "12004" }
        \(users)
        cti: { host: 127.0.0.1, port: \(ctiPort), secret: \(ctiSecret) }
        \(primary.map { "follows: { cti: \"http://127.0.0.1:\($0.ctiPort)\", secret: \(ctiSecret) }" } ?? "")
        \(extra)
        """.write(to: config, atomically: true, encoding: .utf8)
        let process = try ExternalProcess(MediaInteropTests.holdfast, ["pbx", "--config", config.path, "--data-dir", directory.path], name: "pbx", workingDirectory: directory)
        // Ready when it says so on stderr.
        try await process.waitForOutput("pbx: SIP on", "the pbx to start")
        return PBXProcess(port: port, ctiPort: ctiPort, tlsPort: tlsPort, dataDirectory: directory, configURL: config, process: process)
    }

    /// The private CA the call server made for TLS (in its data directory).
    var caFile: URL { dataDirectory.appendingPathComponent("tls/ca.pem") }
}

/// Kamailio as a border proxy in front of the pbx (`scripts/kamailio/border.cfg`) on a free UDP port.
struct BorderProxy {
    static let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/kamailio/border.cfg")
    let port: Int
    let runtime: URL
    let process: ExternalProcess

    static func start() async throws -> BorderProxy {
        let port = ExternalProcess.freePort()
        let runtime = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-kamailio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: runtime, withIntermediateDirectories: true)
        let process = try ExternalProcess("kamailio", ["-f", config.path, "-DD", "-E", "-l", "udp:127.0.0.1:\(port)", "-Y", runtime.path, "-m", "64", "-M", "8"],
                                          name: "kamailio", workingDirectory: runtime)
        // Its sockets are bound once it prints them.
        try await process.waitForOutput("127.0.0.1]:\(port)", "Kamailio to listen")
        return BorderProxy(port: port, runtime: runtime, process: process)
    }

    /// Kamailio's workers outlive a main process that could not handle SIGTERM (a test runner may
    /// block it), so every process of this instance is killed by its own runtime folder.
    func stop() async throws {
        let kill = try ExternalProcess("pkill", ["-KILL", "-f", runtime.path], name: "pkill-kamailio")
        try await kill.waitForExit(within: 10)
        try await process.waitForExit(within: 10)
    }
}

extension Baresip {
    /// A baresip phone registered to the pbx as `number`, through `outboundProxy` (a UDP port on loopback) if given.
    /// With `trusting` (a CA file), it registers and calls over TLS to `pbxPort`; with `mediaenc`
    /// (`srtp`, `srtp-mand`), its srtp module offers and takes SDES keys; `rtpPorts` narrows its
    /// RTP ports (a capture can then filter on them).
    init(number: String, pbxPort: Int, sourceFrequency: Double, autoAnswer: Bool, outboundProxy: Int? = nil, trusting ca: URL? = nil,
         mediaenc: String? = nil, rtpPorts: ClosedRange<Int>? = nil) throws {
        try self.init(sourceFrequency: sourceFrequency, autoAnswer: autoAnswer)
        let config = directory.appendingPathComponent("config")
        var text = try String(contentsOf: config, encoding: .utf8)
        if let ca { text = text.replacingOccurrences(of: "sip_trans_def udp", with: "sip_trans_def tls\nsip_cafile \(ca.path)") }
        if mediaenc != nil { text = text.replacingOccurrences(of: "module g711.so", with: "module g711.so\nmodule srtp.so") }
        if let rtpPorts { text = text.replacingOccurrences(of: "rtp_ports 42000-42999", with: "rtp_ports \(rtpPorts.lowerBound)-\(rtpPorts.upperBound)") }
        try text.write(to: config, atomically: true, encoding: .utf8)
        let account = "<sip:\(number)@127.0.0.1:\(pbxPort)\(ca == nil ? "" : ";transport=tls")>;auth_pass=pw\(number);regint=300" + (autoAnswer ? ";answermode=auto" : "")
            + (mediaenc.map { ";mediaenc=\($0)" } ?? "")
            + (outboundProxy.map { ";outbound=\"sip:127.0.0.1:\($0);lr\"" } ?? "") + "\n"
        try account.write(to: directory.appendingPathComponent("accounts"), atomically: true, encoding: .utf8)
    }
}

@Suite(.serialized, .realPeers) struct PBXInteropTests {
    @Test func baresipPhonesRegisterAndCallThroughThePBXWithAudioBothWays() async throws {
        let pbx = try await PBXProcess.start()
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true)
        let brookProcess = try brook.start(seconds: 10)
        try await withTimeout(10, "2002 to register") {
            while !pbx.process.outputTail().contains("user=2002") { try await Task.sleep(for: .milliseconds(20)) }
        }
        let ada = try Baresip(number: "2001", pbxPort: pbx.port, sourceFrequency: 700, autoAnswer: false)
        let adaProcess = try ada.start(seconds: 6, commands: ["/dial sip:2002@127.0.0.1:\(pbx.port)"])
        try await adaProcess.waitForExit(within: 30)
        try await brookProcess.waitForExit(within: 30)
        let adaLog = adaProcess.outputTail(200_000)
        #expect(adaLog.contains("Call established"), "ada's call: \(adaLog.suffix(2000))")
        let adaHeard = try await Sox.roughFrequency(try ada.receivedRecording())
        let brookHeard = try await Sox.roughFrequency(try brook.receivedRecording())
        #expect(abs(adaHeard - 900) < 45, "2001 heard \(adaHeard) Hz, expected 900")
        #expect(abs(brookHeard - 700) < 35, "2002 heard \(brookHeard) Hz, expected 700")
        pbx.process.terminate()
        let records = try FeatureStore(directory: pbx.dataDirectory).records(after: 0)
        #expect(records.contains { $0.caller == "2001" && $0.callee == "2002" && $0.outcome == "answered" })
    }

    @Test func aPhoneBehindKamailioRegistersWithPathAndIsCalledThroughIt() async throws {
        let pbx = try await PBXProcess.start()
        let border = try await BorderProxy.start()
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true, outboundProxy: border.port)
        let brookProcess = try brook.start(seconds: 10)
        _ = try await events.next("2002 registered through Kamailio", within: 10) { $0["type"]?.stringValue == "devices.changed" && $0["user"] == .string("2002") }
        let devices = try await CTIClient(port: pbx.ctiPort).request("GET", "users/2002/devices")
        guard case .object(let device)? = devices.array.first, case .array(let path)? = device["path"] else {
            Issue.record("no device for 2002: \(devices.array)"); try await border.stop(); return
        }
        #expect(path.contains { if case .string(let hop) = $0 { hop.contains("127.0.0.1:\(border.port)") } else { false } }, "Kamailio is 2002's Path: \(path)")
        let ada = try Baresip(number: "2001", pbxPort: pbx.port, sourceFrequency: 700, autoAnswer: false)
        let adaProcess = try ada.start(seconds: 6, commands: ["/dial sip:2002@127.0.0.1:\(pbx.port)"])
        try await adaProcess.waitForExit(within: 30)
        try await brookProcess.waitForExit(within: 30)
        #expect(adaProcess.outputTail(200_000).contains("Call established"))
        // The pbx reached 2002 through the proxy (its Path as Route), and the dialog stayed on it.
        let relayed = border.process.outputTail(200_000)
        let inviteToBrook = relayed.split(separator: "\n").contains { $0.contains("border: INVITE to sip:") && $0.contains("127.0.0.1:\(brook.sipPort)") }
        #expect(inviteToBrook, "Kamailio relayed an INVITE to 2002's contact: \(relayed.suffix(2000))")
        let adaHeard = try await Sox.roughFrequency(try ada.receivedRecording())
        let brookHeard = try await Sox.roughFrequency(try brook.receivedRecording())
        #expect(abs(adaHeard - 900) < 45, "2001 heard \(adaHeard) Hz, expected 900")
        #expect(abs(brookHeard - 700) < 35, "2002 heard \(brookHeard) Hz, expected 700")
        await events.close()
        try await border.stop()
        pbx.process.terminate()
    }

    @Test func ctiPlacesHoldsRetrievesAndClearsACallBetweenBaresipPhones() async throws {
        let pbx = try await PBXProcess.start()
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let ada = try Baresip(number: "2001", pbxPort: pbx.port, sourceFrequency: 700, autoAnswer: true)
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true)
        let adaProcess = try ada.start(seconds: 12)
        let brookProcess = try brook.start(seconds: 12)
        var registered: Set<String> = []
        while registered.count < 2 {
            if case .string(let user)? = try await events.next(type: "devices.changed", within: 10)["user"] { registered.insert(user) }
        }
        let cti = CTIClient(port: pbx.ctiPort)
        // Click-to-dial: 2001's baresip is rung first (no SDP: it makes the offer), then 2002.
        let made = try await cti.request("POST", "calls", body: #"{"from": "2001", "to": "2002"}"#)
        #expect(made.status == 201, "\(made.json)")
        guard case .string(let id)? = made["call"] else { Issue.record("no call id: \(made.json)"); return }
        let answered = try await events.next(type: "call.answered", within: 10)
        #expect(answered["call"] == .string(id))
        try await Task.sleep(for: .seconds(2))  // two seconds of conversation for the recordings
        let held = try await cti.request("POST", "calls/\(id)/hold", body: #"{"party": "2001"}"#)
        #expect(held.status == 200, "baresip accepted the hold re-INVITEs: \(held.json)")
        let retrieved = try await cti.request("POST", "calls/\(id)/retrieve", body: #"{"party": "2001"}"#)
        #expect(retrieved.status == 200, "baresip accepted the retrieve re-INVITEs: \(retrieved.json)")
        try await Task.sleep(for: .seconds(1))  // audio again after retrieve
        #expect(try await cti.request("DELETE", "calls/\(id)").status == 200)
        #expect(try await events.next(type: "call.ended")["outcome"] == .string("cleared"))
        try await adaProcess.waitForExit(within: 30)
        try await brookProcess.waitForExit(within: 30)
        let adaHeard = try await Sox.roughFrequency(try ada.receivedRecording())
        let brookHeard = try await Sox.roughFrequency(try brook.receivedRecording())
        #expect(abs(adaHeard - 900) < 45, "2001 heard \(adaHeard) Hz, expected 900")
        #expect(abs(brookHeard - 700) < 35, "2002 heard \(brookHeard) Hz, expected 700")
        await events.close()
        pbx.process.terminate()
    }

    /// The party who stays is linphone: it hears the music while 2003 rings, then 2003. (baresip
    /// 1.0's file recorder stops at the music's send-only re-INVITE, so it cannot tell the end.)
    @Test func ctiBlindTransferRebridgesALinphoneCallerToAThirdPhone() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true)
        let cy = try Baresip(number: "2003", pbxPort: pbx.port, sourceFrequency: 1300, autoAnswer: true)
        let brookProcess = try brook.start(seconds: 15)
        let cyProcess = try cy.start(seconds: 15)
        let ada = try Linphone.start("2001", pbxPort: pbx.port, frequency: 700)
        var registered: Set<String> = []
        while registered.count < 3 {
            if case .string(let user)? = try await events.next(type: "devices.changed", within: 10)["user"] { registered.insert(user) }
        }
        ada.command("call sip:2002@127.0.0.1:\(pbx.port)")
        let answered = try await events.next(type: "call.answered", within: 10)
        guard case .string(let id)? = answered["call"] else { Issue.record("no call id"); return }
        try await ada.waitFor("connected.")
        try await Task.sleep(for: .seconds(1))  // a second with 2002 before the transfer
        let cti = CTIClient(port: pbx.ctiPort)
        let transfer = try await cti.request("POST", "calls/\(id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? id)/transfer", body: #"{"party": "2002", "to": "2003"}"#)
        #expect(transfer.status == 202, "\(transfer.json)")
        let transferred = try await events.next(type: "call.transferred", within: 10)
        #expect(transferred["callee"] == .string("2003"))
        #expect(transferred["rebridged"] == .bool(true), "linphone 2001 accepted the re-INVITE towards 2003")
        // What 2001 hears from now on is 2003's tone; 2003 heard 2001's.
        let adaHears = ada.recordAnew("after-transfer.wav")
        try await Task.sleep(for: .seconds(2))  // two seconds of 2001 and 2003
        await ada.stop()
        try await brookProcess.waitForExit(within: 30)
        try await cyProcess.waitForExit(within: 30)
        let adaHeard = try await Sox.dominantFrequency(adaHears)
        #expect(abs(adaHeard - 1300) < 30, "2001 heard mostly \(adaHeard) Hz after the transfer, expected 2003's 1300 Hz")
        let cyHeard = try await Sox.roughFrequency(try cy.receivedRecording())
        #expect(abs(cyHeard - 700) < 35, "2003 heard \(cyHeard) Hz, expected 700")
        let records = try FeatureStore(directory: pbx.dataDirectory).records(after: 0)
        #expect(records.last?.path == ["2002", "transfer", "2003"], "\(records)")
        await events.close()
    }

    /// A device that answers just as the call server gives up on it (its 200 crosses the CANCEL,
    /// as RFC 3261 §9.1 allows): here "If I do not answer" takes the call elsewhere after 5 s. The
    /// call server must ACK that 200 and hang up with BYE, or the device stays in a call with
    /// nobody; SIPp plays the device (registered as 2003) and fails without the ACK and the BYE.
    @Test func anAnswerThatCrossesTheCancelIsAcknowledgedAndHungUp() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let set = try await CTIClient(port: pbx.ctiPort).request("PATCH", "users/2003/features", body: #"{"forwardNoAnswer": "2004", "noAnswerSeconds": 5}"#)
        #expect(set.status == 200, "\(set.json)")
        let uasPort = ExternalProcess.freePort()
        let device = try SIPp.start("uas_answer_after_cancel.xml", remote: nil, localPort: uasPort, service: "2003")
        defer { device.terminate() }
        try await SIPp.registerCallee("2003", pbxPort: pbx.port, uasPort: uasPort)
        let caller = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2003@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001", "--json"],
                                         name: "call-2003-no-answer")
        defer { caller.terminate() }
        try await SIPp.expectSuccess(device, within: 30)
    }

    @Test func aRetransmittedAnswerIsAcknowledgedAgainAndTheCallKept() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let uasPort = ExternalProcess.freePort()
        let device = try SIPp.start("uas_answer_twice.xml", remote: nil, localPort: uasPort, service: "2003")
        defer { device.terminate() }
        try await SIPp.registerCallee("2003", pbxPort: pbx.port, uasPort: uasPort)
        let caller = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2003@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                      "--hangup-after", "20", "--json"], name: "call-2003-answered-twice")
        defer { caller.terminate() }
        try await SIPp.expectSuccess(device, within: 30)
        // The device's BYE reached the caller through the call server: the caller, set to hang up
        // only after 20 s, ends now.
        let status = try await caller.waitForExit(within: 10)
        #expect(status == 0, "the caller's call ended cleanly: \(caller.outputTail())")
    }

    @Test func sigkillLosesNoCDROrFeatureAndTheServerServesAgain() async throws {
        var pbx = try await PBXProcess.start()
        // A call that ends busy (DND) writes a CDR; DND itself is set through CTI and stored by the server.
        let dnd = try await CTIClient(port: pbx.ctiPort).request("PATCH", "users/2002/features", body: #"{"doNotDisturb": true, "forwardNoAnswer": "2003"}"#)
        #expect(dnd.status == 200, "\(dnd.json)")
        let call = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2002@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001", "--json"], name: "call-dnd")
        _ = try await call.waitForExit(within: 30)
        #expect(call.outputTail().contains("486"), "DND answered busy: \(call.outputTail())")
        kill(pbx.process.process.processIdentifier, SIGKILL)
        _ = try await pbx.process.waitForExit(within: 10)
        pbx = try await PBXProcess.start(dataDirectory: pbx.dataDirectory, port: pbx.port, ctiPort: pbx.ctiPort)
        let cti = CTIClient(port: pbx.ctiPort)
        let features = try await cti.request("GET", "users/2002/features")
        #expect(features["doNotDisturb"] == .bool(true) && features["forwardNoAnswer"] == .string("2003"), "DND and forwarding survived SIGKILL: \(features.json)")
        let page = try await cti.request("GET", "cdr?after=0")
        guard case .array(let records)? = page["records"], case .object(let record)? = records.first else { Issue.record("no CDR after restart: \(page.json)"); return }
        #expect(records.count == 1 && record["outcome"] == .string("busy"), "the CDR survived SIGKILL")
        let again = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2002@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001", "--json"], name: "call-dnd-2")
        _ = try await again.waitForExit(within: 30)
        #expect(again.outputTail().contains("486"), "after restart DND still answers busy")
        pbx.process.terminate()
    }

    @Test func everyTortureRequestGetsTheManifestReplyOverUDPAndTCP() async throws {
        let pbx = try await PBXProcess.start()
        let rows = try String(contentsOf: SIPCheckCommandTests.torture.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("name\t") }.map { $0.split(separator: "\t").map(String.init) }
        let group = MultiThreadedEventLoopGroup.singleton
        // UDP replies to well-formed requests follow the Via (no rport): to 127.0.0.1:5060.
        let udp = try await RawUDPPeer(group: group, port: 5060)
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: pbx.port)
        var messages: [(name: String, reply: String, callID: String, ownKey: String, bytes: Data)] = []
        var firstKeyOfTransaction: [String: String] = [:]
        for row in rows {
            let bytes = try Data(contentsOf: SIPCheckCommandTests.torture.appendingPathComponent(row[0] + ".dat"))
            let own = Self.callID(in: bytes)
            var key = own
            // Only messages that parse reach the transaction layer.
            if (try? SIPParser().parse(Array(bytes))) != nil {
                let identity = Self.transactionIdentity(in: String(decoding: bytes, as: UTF8.self))
                key = firstKeyOfTransaction[identity] ?? own
                firstKeyOfTransaction[identity] = key
            }
            messages.append((row[0], row[3], key, own, bytes))
        }
        // UDP: one message at a time (a burst could overflow a socket buffer and lose datagrams),
        // waiting for the reply where one is due.
        let udpBox = FinalsBox(udp.received, datagrams: true)
        for message in messages {
            try await udp.channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: message.bytes)))
            if Int(message.reply) != nil { _ = await collectFinals(udpBox, expecting: [message.callID], within: 5) }
        }
        try await Task.sleep(for: .milliseconds(300))  // let any reply to the last message arrive (it must not)
        let udpReplies = await udpBox.values
        for message in messages {
            switch message.reply {
            case "none": #expect(udpReplies[message.callID] == nil, "\(message.name) is a response: nothing may be sent (UDP)")
            case "-": break
            default: #expect(udpReplies[message.callID].map(String.init) == message.reply, "\(message.name) over UDP: got \(udpReplies[message.callID].map(String.init) ?? "nothing")")
            }
        }
        // TCP: one connection per message; the reply comes back on it. A body shorter than its
        // Content-Length cannot be known to be short on a stream (the rest may still come), so
        // those messages are checked over UDP only.
        for message in messages where Int(message.reply) != nil && Self.bodyIsComplete(message.bytes) {
            let tcp = try await RawTCPPeer(group: group, to: target)
            try await tcp.channel.writeAndFlush(ByteBuffer(bytes: message.bytes))
            let replies = await collectFinals(FinalsBox(tcp.received), expecting: [message.ownKey], within: 5)
            #expect(replies[message.ownKey].map(String.init) == message.reply, "\(message.name) over TCP: got \(replies[message.ownKey].map(String.init) ?? "nothing")")
            await tcp.close()
        }
        // Still serving.
        let options = "OPTIONS sip:127.0.0.1:\(pbx.port) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKafter\r\nTo: <sip:127.0.0.1>\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nCall-ID: still-serving\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        try await udp.send(options, to: target)
        #expect(await collectFinals(udpBox, expecting: ["still-serving"], within: 5)["still-serving"] == 200)
        #expect(pbx.process.process.isRunning)
        await udp.close()
        pbx.process.terminate()
    }

    static func callID(in bytes: Data) -> String { replyKey(in: String(decoding: bytes, as: UTF8.self)) }

    /// How a reply is matched to its request: the Call-ID, or the branch when there is none (insuf).
    static func replyKey(in text: String) -> String {
        for line in text.components(separatedBy: "\r\n") {
            let lower = line.lowercased()
            if lower.hasPrefix("call-id:") || lower.hasPrefix("i:") {
                return String(line[line.index(after: line.firstIndex(of: ":")!)...]).trimmingCharacters(in: .whitespaces)
            }
        }
        return branch(in: text)
    }

    /// RFC 3261 §17.2.3 identity (branch, sent-by, method): two messages that share it are one
    /// transaction, so over UDP the second is answered as a retransmission of the first.
    static func transactionIdentity(in text: String) -> String {
        let method = text.prefix { $0 != " " }
        for line in text.components(separatedBy: "\r\n") where line.lowercased().hasPrefix("via:") || line.lowercased().hasPrefix("v:") {
            let sentBy = line.split(separator: " ").dropFirst(2).first.map { $0.split(separator: ";").first ?? $0 } ?? ""
            return "\(branch(in: text))|\(sentBy.lowercased())|\(method)"
        }
        return UUID().uuidString
    }

    /// The branch of the first Via line (matching requests to replies; two torture messages that
    /// share a branch and sent-by are one transaction, and expect the same reply).
    static func branch(in text: String) -> String {
        for line in text.components(separatedBy: "\r\n") {
            let lower = line.lowercased()
            guard lower.hasPrefix("via:") || lower.hasPrefix("v:"), let range = lower.range(of: "branch=") else { continue }
            return String(lower[range.upperBound...].prefix { $0 != ";" && $0 != "," && $0 != " " })
        }
        return ""
    }

    static func bodyIsComplete(_ bytes: Data) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<split.lowerBound].lowercased()
        let body = Array(text[split.upperBound...].utf8)
        for line in head.components(separatedBy: "\r\n") where line.hasPrefix("content-length") || line.hasPrefix("l:") || line.hasPrefix("l :") {
            let value = line[line.index(after: line.firstIndex(of: ":")!)...].trimmingCharacters(in: .whitespaces)
            guard let length = Int(value), length >= 0 else { return false }
            return body.count >= length
        }
        return true
    }

    /// Final responses by Call-ID, until all expected have come or the time is up. One task reads
    /// the stream for its whole life (an AsyncStream ends when its reader is cancelled).
    func collectFinals(_ box: FinalsBox, expecting: Set<String>, within seconds: Double) async -> [String: Int] {
        do {
            try await withTimeout(seconds, "responses") { await box.wait(for: expecting) }
        } catch {}
        return await box.values
    }

}

/// Collects final responses by Call-ID from a stream of datagrams or stream chunks.
actor FinalsBox {
    private(set) var values: [String: Int] = [:]
    private var waiters: [Int: (keys: Set<String>, continuation: CheckedContinuation<Void, Never>)] = [:]
    private var nextWaiter = 0

    /// `datagrams`: each chunk is one message (UDP); otherwise chunks are framed (TCP).
    init(_ stream: AsyncStream<[UInt8]>, datagrams: Bool = false) {
        Task { await self.read(stream, datagrams: datagrams) }
    }

    private func read(_ stream: AsyncStream<[UInt8]>, datagrams: Bool) async {
        var framer = StreamFramer()
        for await chunk in stream {
            var messages: [[UInt8]] = []
            if datagrams {
                messages = [chunk]
            } else {
                framer.append(chunk)
                while let output = framer.next() { if case .message(let bytes) = output { messages.append(bytes) } }
            }
            for bytes in messages {
                // Read leniently: an error response echoes the broken headers of its request.
                guard let (status, callID) = Self.statusAndCallID(bytes), status >= 200, values[callID] == nil else { continue }
                values[callID] = status
            }
            for (id, waiter) in waiters where waiter.keys.isSubset(of: Set(values.keys)) {
                waiters[id] = nil
                waiter.continuation.resume()
            }
        }
    }

    /// The status and the top Via branch of a response (every torture request that expects a
    /// reply has a branch; insuf has no Call-ID).
    static func statusAndCallID(_ bytes: [UInt8]) -> (Int, String)? {
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        guard let first = lines.first, first.hasPrefix("SIP/2.0 "), let status = Int(first.dropFirst(8).prefix(3)) else { return nil }
        return (status, PBXInteropTests.replyKey(in: text))
    }

    /// Returns when every key has a final response, or when the waiting task is cancelled.
    func wait(for keys: Set<String>) async {
        if keys.isSubset(of: Set(values.keys)) { return }
        nextWaiter += 1
        let id = nextWaiter
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled { continuation.resume() } else { waiters[id] = (keys, continuation) }
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
    }

    private func cancel(_ id: Int) {
        waiters.removeValue(forKey: id)?.continuation.resume()
    }
}
