// Voicemail against real peers: `holdfast sip` callers leave and hear messages by RFC 4733 keys,
// a SIPp device watches its mailbox by SUBSCRIBE (RFC 3842), a registered device that never
// subscribed is sent the NOTIFY anyway, and a call server killed during a deposit keeps the
// message whole or not at all.

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

@Suite(.serialized, .realPeers) struct VoicemailInteropTests {
    /// `holdfast sip call` to `dialed` as `user`, sending a tone and keys, recording what it hears.
    static func call(_ dialed: String, as user: String, pbx: PBXProcess, tone: Int? = nil, dtmf: String? = nil, seconds: Double,
                     record: URL? = nil) throws -> ExternalProcess {
        var arguments = ["sip", "call", "sip:\(dialed)@127.0.0.1:\(pbx.port)", "--user", user, "--password", "pw\(user)",
                         "--hangup-after", String(seconds), "--json"]
        if let tone { arguments += ["--tone", String(tone)] }
        if let dtmf { arguments += ["--dtmf", dtmf] }
        if let record { arguments += ["--record", record.path] }
        return try ExternalProcess(MediaInteropTests.holdfast, arguments, name: "call-\(user)-\(dialed)")
    }

    /// Waits until the phone's state says `new` and `old` messages wait (its state now, not one
    /// buffered from before: an early 0/0 must not pass for a deletion).
    static func waitForWaiting(_ phone: PhoneProcess, new: Int64, old: Int64, _ what: String, within seconds: Double = 15) async throws -> [String: JSONValue] {
        try await withTimeout(seconds, what) {
            while true {
                let state = try await phone.request("GET", "state").json
                if state["voicemail"]?.objectValue?["new"]?.intValue == new, state["voicemail"]?.objectValue?["old"]?.intValue == old { return state }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    static func messages(_ pbx: PBXProcess, _ mailbox: String) -> [String] {
        let folder = pbx.dataDirectory.appendingPathComponent("voicemail/\(mailbox)")
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".wav") && !$0.hasPrefix("greeting-") }
    }

    /// The seconds of `file` in which 1000 Hz is the strongest tone (200 ms windows, not silence).
    static func secondsOf1000Hz(_ file: URL) throws -> Double {
        let samples = try WAV.read(file)
        var windows = 0
        for start in stride(from: 0, to: samples.count - 1600, by: 1600) {
            let window = Array(samples[start..<start + 1600])
            if AudioAnalysis.rms(window) > 500, abs(AudioAnalysis.dominantFrequency(window) - 1000) <= 20 { windows += 1 }
        }
        return Double(windows) * 0.2
    }

    @Test func aMessageLeftForAnUnansweredUserIsHeardAndDeletedByKeypadWhileItsWatcherIsNotified() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let watcher = try SIPp.start("uac_mwi_subscribe.xml", remote: "127.0.0.1:\(pbx.port)", localPort: ExternalProcess.freePort(), service: "2002",
                                     extra: ["-au", "2002", "-ap", "pw2002", "-timeout", "150s"])
        defer { watcher.terminate() }

        // 2002 is not registered: the call goes to the mailbox, whose generated greeting names
        // the extension; the caller's 1000 Hz after the tone is the message.
        let deposit = try Self.call("2002", as: "2001", pbx: pbx, tone: 1000, seconds: 16)
        try await deposit.waitForExit(within: 40)
        let left = Self.messages(pbx, "2002")
        #expect(left.count == 1, "one message in the mailbox: \(left)")
        let audio = pbx.dataDirectory.appendingPathComponent("voicemail/2002/\(try #require(left.first))")
        let kept = try WAV.read(audio)
        #expect(Double(kept.count) / 8000 > 3, "the message holds what was said after the tone")
        #expect(abs(AudioAnalysis.dominantFrequency(Array(kept.prefix(8000 * 2))) - 1000) <= 20)
        let mode = try FileManager.default.attributesOfItem(atPath: audio.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // Any mailbox (*98): mailbox, PIN and 1, all keyed at once by RFC 4733, ahead of the prompts.
        let heard = pbx.dataDirectory.appendingPathComponent("retrieve.wav")
        let listen = try Self.call("*98", as: "2002", pbx: pbx, dtmf: "2002#12002#1", seconds: 22, record: heard)
        try await listen.waitForExit(within: 45)
        let toneSeconds = try Self.secondsOf1000Hz(heard)
        #expect(toneSeconds >= 2, "the recording played back: \(toneSeconds) s of 1000 Hz")

        // Your own mailbox (*97) from your own phone needs no PIN: 1 plays it, 7 deletes it.
        let delete = try Self.call("*97", as: "2002", pbx: pbx, dtmf: "17", seconds: 6)
        try await delete.waitForExit(within: 30)
        #expect(Self.messages(pbx, "2002").isEmpty, "deleted with 7")
        try await SIPp.expectSuccess(watcher, within: 40)
    }

    @Test func baresipLeavesAMessageAHoldfastPhoneHearsByPINAndKeysAndDeletes() async throws {
        let pbx = try await PBXProcess.start(extra: "voicemail: { askPINOnOwnPhone: true }")
        defer { pbx.process.terminate() }
        let collab = try await CollabProcess.start(pbx: pbx)
        defer { collab.process.terminate() }
        let heard = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-vm-heard-\(UUID().uuidString).wav")
        let phone = try await PhoneProcess.start("2002", collab: collab, audio: ["--audio-out", "file:\(heard.path)"])
        defer { phone.process.terminate() }
        let states = phone.states()
        defer { Task { await states.close() } }
        _ = try await states.next("online and registered", within: 15) { $0.mode == "online" && $0.registered }
        // 2002 rings 5 s before its mailbox takes the call.
        let ring = try await CTIClient(port: pbx.ctiPort).request("PATCH", "users/2002/features", body: #"{"noAnswerSeconds": 5}"#)
        #expect(ring.status == 200, "\(ring.json)")

        let ada = try Baresip(number: "2001", pbxPort: pbx.port, sourceFrequency: 1000, autoAnswer: false)
        var tone = ToneSource(frequency: 1000)
        try WAV.write((0..<3000).flatMap { _ in tone.nextFrame() }, to: ada.directory.appendingPathComponent("source.wav"))  // 60 s
        let adaProcess = try ada.start(seconds: 26, commands: ["/dial sip:2002@127.0.0.1:\(pbx.port)"])
        defer { adaProcess.terminate() }
        _ = try await states.next("2002's phone ringing, not answered", within: 15) {
            ($0["calls"]?.arrayValue ?? []).contains { $0.objectValue?["state"] == "ringing" }
        }
        try await adaProcess.waitForExit(within: 45)
        _ = try await Self.waitForWaiting(phone, new: 1, old: 0, "baresip's message waiting")
        let message = try #require(try await phone.request("GET", "voicemail").json["messages"]?.arrayValue?.first?.objectValue)
        let seconds: Double = try {
            switch message["seconds"] {
            case .double(let value)?: return value
            case .int(let value)?: return Double(value)
            default: throw ProcessFailure(description: "no seconds in \(message)")
            }
        }()
        #expect(message["caller"] == "2001" && seconds > 3, "\(message)")

        // *97 from the phone, the PIN (asked here: askPINOnOwnPhone) and 1, by RFC 4733.
        let dialed = try await phone.request("POST", "voicemail/call")
        let id = try #require(dialed.json["id"]?.stringValue, "\(dialed.json)")
        let connected = try await phone.waitForCall(id, "the mailbox to answer", within: 15) { $0.callState == "connected" }
        let start = connected.packetsReceived
        #expect(try await phone.request("POST", "calls/\(id)/dtmf", json: #"{"digits": "12002#1"}"#).status == 200)
        _ = try await Self.waitForWaiting(phone, new: 0, old: 1, "the message heard (no longer new)", within: 20)
        // The PIN prompt, the announcement and the message itself, counted in packets heard.
        let through = start + Int64((seconds + 14) * 50)
        _ = try await phone.waitForCall(id, "the message played through", within: seconds + 30) { $0.packetsReceived >= through }
        #expect(try await phone.request("POST", "calls/\(id)/dtmf", json: #"{"digits": "7"}"#).status == 200)
        _ = try await Self.waitForWaiting(phone, new: 0, old: 0, "deleted with 7")
        #expect(try await phone.request("POST", "calls/\(id)/end").status == 200)
        _ = try await phone.waitForCall(id, "the call ended", within: 10) { $0.callState == "ended" }
        // The phone writes a WAV per call (heard.wav, heard-2.wav, …): the mailbox call's is the largest.
        let folder = heard.deletingLastPathComponent(), stem = heard.deletingPathExtension().lastPathComponent
        let toneSeconds = try await withTimeout(10, "the phone to write what it heard") {
            while true {
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasPrefix(stem) }
                    .map { folder.appendingPathComponent($0) }
                if let largest = files.max(by: { ((try? WAV.read($0))?.count ?? 0) < ((try? WAV.read($1))?.count ?? 0) }),
                   ((try? WAV.read(largest))?.count ?? 0) > 8000 {
                    return try Self.secondsOf1000Hz(largest)
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(toneSeconds >= 2, "the phone heard baresip's 1000 Hz message: \(toneSeconds) s")
        #expect(Self.messages(pbx, "2002").isEmpty)
    }

    @Test func aDeviceThatNeverSubscribedIsToldAndStarNinetyNineLeavesAMessageWithoutRinging() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let phone = try await RawUDPPeer(group: MultiThreadedEventLoopGroup.singleton)
        defer { Task { await phone.close() } }
        try await SIPp.registerCallee("2003", pbxPort: pbx.port, uasPort: phone.port)
        let deposit = try Self.call("*992003", as: "2001", pbx: pbx, tone: 1000, seconds: 15)
        let notify = try await withTimeout(40, "an unsolicited message-summary NOTIFY to 2003's device") {
            for await datagram in phone.received {
                let text = String(decoding: datagram, as: UTF8.self)
                if text.hasPrefix("INVITE") { return text }
                if text.hasPrefix("NOTIFY"), text.contains("Messages-Waiting: yes") { return text }
            }
            return ""
        }
        #expect(notify.hasPrefix("NOTIFY"), "*99 does not ring the phone: \(notify.prefix(200))")
        #expect(notify.contains("Event: message-summary") && notify.contains("Voice-Message: 1/0"), "\(notify)")
        try await deposit.waitForExit(within: 30)
        #expect(Self.messages(pbx, "2003").count == 1)
    }

    @Test func onlineThePhoneListsPlaysMarksAndDeletesMessagesThroughTheCollaborationServer() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let collab = try await CollabProcess.start(pbx: pbx)
        defer { collab.process.terminate() }
        let phone = try await PhoneProcess.start("2002", collab: collab)
        defer { phone.process.terminate() }
        let states = phone.states()
        defer { Task { await states.close() } }
        _ = try await states.next("online and registered", within: 15) { $0.mode == "online" && $0.registered }
        let deposit = try Self.call("*992002", as: "2001", pbx: pbx, tone: 1000, seconds: 16)
        try await deposit.waitForExit(within: 40)
        _ = try await Self.waitForWaiting(phone, new: 1, old: 0, "a message waiting")
        let shown = try await phone.request("GET", "voicemail")
        let message = try #require(shown.json["messages"]?.arrayValue?.first?.objectValue, "\(shown.json)")
        #expect(message["caller"] == "2001" && message["callerName"] == "Ada Lovelace" && message["folder"] == "INBOX")
        let id = try #require(message["id"]?.intValue)

        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(phone.apiPort)/api/voicemail/\(id)/audio")!)
        request.setValue("Bearer \(phone.token)", forHTTPHeaderField: "Authorization")
        let (audio, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let samples = try WAV.decode(Array(audio))
        #expect(samples.count > 8000 * 2 && abs(AudioAnalysis.dominantFrequency(Array(samples.prefix(16000))) - 1000) <= 20,
                "the message's audio through the collaboration server")

        #expect(try await phone.request("POST", "voicemail/\(id)/heard").status == 200)
        _ = try await Self.waitForWaiting(phone, new: 0, old: 1, "heard: nothing new waits")
        let deleted = try await phone.request("DELETE", "voicemail/\(id)")
        #expect(deleted.status == 200 && deleted.json["deleted"] == true, "\(deleted.json)")
        _ = try await Self.waitForWaiting(phone, new: 0, old: 0, "deleted")
        #expect(try await phone.request("GET", "voicemail").json["messages"]?.arrayValue?.isEmpty == true)
        #expect(try await phone.request("DELETE", "voicemail/\(id)").status == 422, "gone: the call server's 404 comes back as a refusal")
        #expect(try await phone.request("GET", "voicemail/x/audio").status == 400)
    }

    @Test func withTheCollaborationServerKilledThePhoneStillSeesMessagesWaitAndCallsItsMailbox() async throws {
        // No unsolicited NOTIFYs: what the phone knows comes from its own subscription.
        let pbx = try await PBXProcess.start(extra: "voicemail: { unsolicitedMWI: false }")
        defer { pbx.process.terminate() }
        let collab = try await CollabProcess.start(pbx: pbx)
        let phone = try await PhoneProcess.start("2002", collab: collab)
        defer { phone.process.terminate() }
        let states = phone.states()
        defer { Task { await states.close() } }
        _ = try await states.next("online and registered", within: 15) { $0.mode == "online" && $0.registered }
        kill(collab.process.process.processIdentifier, SIGKILL)
        _ = try await collab.process.waitForExit(within: 10)
        _ = try await states.next("limited functionality", within: 5) { $0.mode == "offline" }
        // *99 + 2002 leaves a message without ringing the phone; the call server tells the phone.
        let deposit = try Self.call("*992002", as: "2001", pbx: pbx, tone: 1000, seconds: 15)
        let waiting = try await Self.waitForWaiting(phone, new: 1, old: 0, "a message waiting", within: 40)
        #expect(waiting.mode == "offline" && waiting.capability("voicemail.call") == true)
        #expect(waiting["calls"]?.arrayValue?.isEmpty != false, "*99 never rang the phone")
        try await deposit.waitForExit(within: 30)
        let shown = try await phone.request("GET", "voicemail")
        #expect(shown.status == 200 && shown.json["waiting"]?.objectValue?["new"] == 1 && shown.json["messages"] == .null, "\(shown.json)")
        let dialed = try await phone.request("POST", "voicemail/call")
        #expect(dialed.status == 201 && dialed.json["to"] == "*97", "\(dialed.json)")
        let id = try #require(dialed.json["id"]?.stringValue)
        let connected = try await phone.waitForCall(id, "the mailbox to answer", within: 15) { $0.callState == "connected" && $0.packetsReceived > 10 }
        #expect(connected.callState == "connected")
        #expect(try await phone.request("POST", "calls/\(id)/end").status == 200)
        let wrong = try await phone.request("POST", "voicemail/call", json: #"{"mailbox": "2003"}"#)
        #expect(wrong.status == 400 && wrong.json["field"] == "mailbox", "\(wrong.json)")
        let list = try await phone.request("GET", "voicemail")
        #expect(list.json["messages"] == .null, "the list needs the collaboration server")
        let offlineDelete = try await phone.request("DELETE", "voicemail/1")
        #expect(offlineDelete.status == 409 && offlineDelete.json["reason"] == "server_offline", "\(offlineDelete.json)")
    }

    @Test func baresipsMWIModuleShowsTheMessageWaiting() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 700, autoAnswer: false)
        let config = brook.directory.appendingPathComponent("config")
        try (try String(contentsOf: config, encoding: .utf8) + "module_app mwi.so\n").write(to: config, atomically: true, encoding: .utf8)
        let process = try brook.start(seconds: 40)
        defer { process.terminate() }
        try await process.waitForOutput("Messages-Waiting: no", within: 15, "baresip's first message-summary NOTIFY")
        let deposit = try Self.call("*992002", as: "2001", pbx: pbx, tone: 1000, seconds: 16)
        try await deposit.waitForExit(within: 40)
        try await process.waitForOutput("Messages-Waiting: yes", within: 15, "baresip to show a message waiting")
        #expect(process.outputTail(100_000).contains("Voice-Message: 1/0"))
        #expect(process.occurrences(of: "----- MWI for") == 2, "a subscriber gets the NOTIFY of its subscription, not an unsolicited one too")
    }

    @Test func aGreetingRecordedFromTheKeypadIsWhatTheNextCallerHears() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        // *97, 0 (mailbox options), 1 (unavailable greeting); the 1000 Hz after the tone is the
        // greeting, kept when the call ends.
        let record = try Self.call("*97", as: "2003", pbx: pbx, tone: 1000, dtmf: "01", seconds: 12)
        try await record.waitForExit(within: 30)
        let greeting = pbx.dataDirectory.appendingPathComponent("voicemail/2003/greeting-unavailable.wav")
        let kept = try WAV.read(greeting)
        #expect(Double(kept.count) / 8000 > 2, "the greeting holds what was said after the tone: \(kept.count) samples")
        #expect(try FileManager.default.attributesOfItem(atPath: greeting.path)[.posixPermissions] as? Int == 0o600)
        // The next caller to 2003's mailbox hears it (and no generated greeting).
        let heard = pbx.dataDirectory.appendingPathComponent("greeting-heard.wav")
        let caller = try Self.call("*992003", as: "2001", pbx: pbx, seconds: 6, record: heard)
        try await caller.waitForExit(within: 30)
        let toneSeconds = try Self.secondsOf1000Hz(heard)
        #expect(toneSeconds >= 2, "the caller heard the recorded greeting: \(toneSeconds) s of 1000 Hz")
    }

    @Test func aSubscriptionToAnothersMailboxOrAnotherEventIsRefused() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let other = try SIPp.start("uac_mwi_refused.xml", remote: "127.0.0.1:\(pbx.port)", localPort: ExternalProcess.freePort(), service: "2002",
                                   extra: ["-au", "2001", "-ap", "pw2001"])
        try await SIPp.expectSuccess(other)
    }

    @Test func aCallServerKilledDuringADepositKeepsTheMessageWholeOrNothing() async throws {
        var pbx = try await PBXProcess.start()
        let deposit = try Self.call("2004", as: "2001", pbx: pbx, tone: 1000, seconds: 30)
        defer { deposit.terminate() }
        // Killed once the recording has run for a while (it is written as it comes).
        let tmp = pbx.dataDirectory.appendingPathComponent("voicemail/2004/tmp")
        try await withTimeout(40, "the recording to be under way") {
            // The file on disk is the state awaited: it is polled.
            while true {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
                if let name = names.first, let size = (try? FileManager.default.attributesOfItem(atPath: tmp.appendingPathComponent(name).path))?[.size] as? Int,
                   size > 44 + 8000 * 2 * 3 { return }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        kill(pbx.process.process.processIdentifier, SIGKILL)
        _ = try await pbx.process.waitForExit(within: 10)
        pbx = try await PBXProcess.start(dataDirectory: pbx.dataDirectory, port: pbx.port, ctiPort: pbx.ctiPort)
        defer { pbx.process.terminate() }
        let kept = Self.messages(pbx, "2004")
        #expect(kept.count == 1, "the message as far as it got: \(kept)")
        let audio = try WAV.read(pbx.dataDirectory.appendingPathComponent("voicemail/2004/\(try #require(kept.first))"))
        #expect(Double(audio.count) / 8000 >= 3)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []).isEmpty, "nothing half-written is left")
        let index = pbx.dataDirectory.appendingPathComponent("voicemail/index.sqlite")
        let rows = try ExternalProcess("sqlite3", [index.path, "SELECT COUNT(*), MAX(partial) FROM messages WHERE mailbox = '2004'"], name: "sqlite3")
        try await rows.waitForExit(within: 10)
        #expect(rows.outputTail().trimmingCharacters(in: .whitespacesAndNewlines) == "1|1", "one row, marked partial")
    }
}
