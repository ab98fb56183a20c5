// Meet-me conference rooms against real phones: three baresips in room 5100 each hear the other two
// and not themselves; room 5101 refuses a wrong PIN and takes the right one; CTI lists, mutes and
// removes participants; a phone whose RTP stops leaves the room by itself.

import Audio
import Foundation
import TestSupport
import Testing
import Wire

@Suite(.serialized, .realPeers) struct ConferenceInteropTests {
    static let rooms = """
    conferences:
      - { number: "5100", name: Open room }
      - { number: "5101", name: Board room, pin: "4321" }
    """

    /// Goertzel power at each frequency over the last `seconds` of a recording.
    static func powers(_ file: URL, at frequencies: [Double], lastSeconds seconds: Double) throws -> [Double: Double] {
        let samples = try WAV.read(file)
        let tail = Array(samples.suffix(Int(seconds * 8000)))
        return Dictionary(uniqueKeysWithValues: frequencies.map { ($0, AudioAnalysis.power(tail, at: $0)) })
    }

    static func participants(_ cti: CTIClient, _ room: String) async throws -> [[String: JSONValue]] {
        let answer = try await cti.request("GET", "conferences/\(room)")
        return answer.json["participants"]?.arrayValue?.compactMap(\.objectValue) ?? []
    }

    @Test func threeBaresipsInRoom5100EachHearTheOtherTwoAndNotThemselves() async throws {
        let pbx = try await PBXProcess.start(extra: Self.rooms)
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let cti = CTIClient(port: pbx.ctiPort)
        let tones: [(String, Double)] = [("2001", 440), ("2002", 1000), ("2003", 1600)]
        var phones: [(Baresip, ExternalProcess, Double)] = []
        for (number, frequency) in tones {
            let phone = try Baresip(number: number, pbxPort: pbx.port, sourceFrequency: frequency, autoAnswer: false)
            phones.append((phone, try phone.start(seconds: 9, commands: ["/dial sip:5100@127.0.0.1:\(pbx.port)"]), frequency))
        }
        var joined: Set<String> = []
        while joined.count < 3 {
            let event = try await events.next("three participants in 5100", within: 15) { $0["type"]?.stringValue == "conference.joined" }
            #expect(event["room"] == .string("5100"))
            if let participant = event["participant"]?.stringValue { joined.insert(participant) }
        }
        let listed = try await Self.participants(cti, "5100")
        #expect(Set(listed.compactMap { $0["number"]?.stringValue }) == ["2001", "2002", "2003"], "\(listed)")
        #expect(Set(listed.compactMap { $0["id"]?.stringValue }) == joined)
        for (_, process, _) in phones { try await process.waitForExit(within: 30) }
        for (phone, _, own) in phones {
            // The last three seconds, when all three talk (the first hears its prompt before).
            let p = try Self.powers(try phone.receivedRecording(), at: tones.map(\.1), lastSeconds: 3)
            let others = tones.map(\.1).filter { $0 != own }
            for other in others {
                #expect(p[other]! > 100 * p[own]!, "a participant sending \(own) Hz: \(other) Hz at \(p[other]!), its own at \(p[own]!)")
            }
        }
        // Each left the room as it hung up.
        try await withTimeout(10, "the room to empty") {
            while try await !Self.participants(cti, "5100").isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        await events.close()
    }

    /// baresips: 2001 calls 2002, consults 2003 and conferences the two calls through CTI; bad
    /// requests are refused; the room lists all three; 2002 leaving ends nothing for the others, and
    /// when only 2001 is left the conference ends.
    /// (What they hear is checked with Holdfast phones below: baresip 1.0 drops a new RTP source
    /// mid-call when its sequence numbers are lower than the last it played, as with music on hold.)
    @Test func anAdHocConferenceOfBaresipsIsBuiltThroughCTIAndOutlivesWhoLeaves() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let cti = CTIClient(port: pbx.ctiPort)
        let tones: [(String, Double)] = [("2001", 440), ("2002", 1000), ("2003", 1600)]
        var phones: [String: (Baresip, ExternalProcess)] = [:]
        for (number, frequency) in tones.reversed() {
            let phone = try Baresip(number: number, pbxPort: pbx.port, sourceFrequency: frequency, autoAnswer: true)
            // They leave in turn by their own timers: 2002, then 2003, then 2001 (well after the
            // conference is built, however loaded the machine).
            let seconds = ["2001": 40, "2002": 20, "2003": 30][number]!
            phones[number] = (phone, try phone.start(seconds: seconds, commands: number == "2001" ? ["/dial sip:2002@127.0.0.1:\(pbx.port)"] : []))
            if number != "2001" {
                try await withTimeout(10, "\(number) to register") {
                    while !pbx.process.outputTail(100_000).contains("user=\(number)") { try await Task.sleep(for: .milliseconds(20)) }
                }
            }
        }
        let answered = try await events.next("2002 to answer", within: 15) { $0["type"]?.stringValue == "call.answered" && $0["callee"] == .string("2002") }
        guard let first = answered["call"]?.stringValue else { Issue.record("\(answered)"); return }
        let consulted = try await cti.request("POST", "calls/\(first)/consult", body: #"{"party": "2001", "to": "2003"}"#)
        #expect(consulted.status == 201, "\(consulted.json)")
        guard let second = consulted.json["call"]?.stringValue else { return }
        _ = try await events.next("the consultation answered", within: 15) { $0["type"]?.stringValue == "call.answered" && $0["call"] == .string(second) }
        let bad = try await cti.request("POST", "calls/\(first)/conference", body: #"{"party": "2001", "with": "\#(first)"}"#)
        #expect(bad.status == 422 && bad.json["field"] == .string("with"), "a call conferenced with itself: \(bad.json)")
        let notTheirs = try await cti.request("POST", "calls/\(first)/conference", body: #"{"party": "2004", "with": "\#(second)"}"#)
        #expect(notTheirs.status >= 400, "2004 conferenced 2001's calls: \(notTheirs.json)")
        let joined = try await cti.request("POST", "calls/\(first)/conference", body: #"{"party": "2001", "with": "\#(second)"}"#)
        #expect(joined.status == 200, "\(joined.json)")
        let members = joined.json["participants"]?.arrayValue?.compactMap { $0.objectValue?["number"]?.stringValue } ?? []
        #expect(Set(members) == ["2001", "2002", "2003"], "\(joined.json)")
        guard let room = joined.json["number"]?.stringValue else { return }
        // 2002 leaves first: 2001 and 2003 stay in the room.
        #expect(phones["2002"]!.1.process.isRunning && phones["2003"]!.1.process.isRunning, "a baresip left before the conference was built")
        try await phones["2002"]!.1.waitForExit(within: 30)
        try await withTimeout(10, "2002 out of the room") {
            while try await Self.participants(cti, room).count > 2 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(Set(try await Self.participants(cti, room).compactMap { $0["number"]?.stringValue }) == ["2001", "2003"])
        // 2003 leaves: a conference of one ends, 2001's call is cleared and recorded, the room closes.
        try await phones["2003"]!.1.waitForExit(within: 30)
        _ = try await events.next("2001's call to end with the conference", within: 10) { $0["type"]?.stringValue == "call.ended" && $0["call"] == .string(first) }
        try await withTimeout(10, "the ad-hoc room to close") {
            while try await cti.request("GET", "conferences/\(room)").status != 404 { try await Task.sleep(for: .milliseconds(50)) }
        }
        try await phones["2001"]!.1.waitForExit(within: 30)
        await events.close()
    }

    /// The must-show: a Holdfast phone calls 2002, consults 2003 and conferences (its window's
    /// Conference: phone → collaboration server → CTI); all three Holdfast phones hear each other
    /// and not themselves, and with the collaboration server killed the conference goes on.
    @Test func holdfastPhonesConferenceACallAndAConsultationAndAllHearEachOther() async throws {
        let pbx = try await PBXProcess.start()
        defer { pbx.process.terminate() }
        let collab = try await CollabProcess.start(pbx: pbx)
        defer { collab.process.terminate() }
        let tones: [(String, Double)] = [("2001", 440), ("2002", 1000), ("2003", 1600)]
        var phones: [String: PhoneProcess] = [:]
        var heard: [String: URL] = [:]
        for (user, frequency) in tones {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-conf-\(user)-\(UUID().uuidString).wav")
            heard[user] = file
            let phone = try await PhoneProcess.start(user, collab: collab, audio: ["--audio-in", "tone:\(Int(frequency))", "--audio-out", "file:\(file.path)"])
            phones[user] = phone
            let states = phone.states()
            _ = try await states.next("\(user) online and registered", within: 15) { $0.mode == "online" && $0.registered }
            await states.close()
        }
        let all = phones, files = heard
        defer { all.values.forEach { $0.process.terminate() } }
        let ada = all["2001"]!
        /// Answers the call ringing on `user`'s phone.
        func answer(_ user: String) async throws {
            let ringing = try await withTimeout(10, "\(user) to ring") {
                while true {
                    if let call = try await all[user]!.calls().first(where: { $0.callState == "ringing" }) { return call }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let id = try #require(ringing["id"]?.stringValue)
            #expect(try await all[user]!.request("POST", "calls/\(id)/answer").status == 200)
        }
        let placed = try await ada.request("POST", "calls", json: #"{"to": "2002"}"#)
        let first = try #require(placed.json["id"]?.stringValue)
        try await answer("2002")
        _ = try await ada.waitForCall(first, "2001–2002 connected", within: 15) { $0.callState == "connected" && $0.packetsReceived > 10 }
        let consulted = try await ada.request("POST", "calls/\(first)/consult", json: #"{"to": "2003"}"#)
        #expect(consulted.status == 202, "\(consulted.json)")
        try await answer("2003")
        let consultation = try await withTimeout(15, "the consultation connected on 2001") {
            while true {
                if let call = try await ada.calls().first(where: { $0["id"]?.stringValue != first && $0.callState == "connected" }) { return call }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let second = try #require(consultation["id"]?.stringValue)
        #expect(try await ada.call(first)?["capabilities"]?.objectValue?["call.conference"] == true)
        let itself = try await ada.request("POST", "calls/\(first)/conference", json: #"{"with": "\#(first)"}"#)
        #expect(itself.status >= 400, "conferenced with itself: \(itself.json)")
        let joined = try await ada.request("POST", "calls/\(first)/conference", json: #"{"with": "\#(second)"}"#)
        #expect(joined.status == 202, "\(joined.json)")
        // 2001's consultation dialog ends; its first call is the conference.
        _ = try await ada.waitForCall(second, "the consultation's dialog ended on 2001", within: 10) { $0.callState == "ended" }
        let cti = CTIClient(port: pbx.ctiPort)
        let rooms = try await cti.request("GET", "conferences").array
        let room = try #require(rooms.first { $0.objectValue?["number"]?.stringValue?.hasPrefix("adhoc-") == true }?.objectValue)
        #expect(Set(room["participants"]?.arrayValue?.compactMap { $0.objectValue?["number"]?.stringValue } ?? []) == ["2001", "2002", "2003"], "\(room)")
        // Each phone's call window lists the three (pushed by the collaboration server), each playing
        // a tone and so marked talking.
        @Sendable func talking(_ call: [String: JSONValue]) -> Bool {
            call["conference"]?.objectValue?["participants"]?.arrayValue?.allSatisfy { $0.objectValue?["talking"] == true } ?? false
        }
        @Sendable func listed(_ call: [String: JSONValue]) -> Set<String> {
            Set(call["conference"]?.objectValue?["participants"]?.arrayValue?.compactMap { $0.objectValue?["number"]?.stringValue } ?? [])
        }
        for (user, phone) in phones {
            let call = try await withTimeout(15, "\(user)'s call to list the room's three") {
                while true {
                    if let call = try await phone.calls().first(where: { $0.callState == "connected" && listed($0) == ["2001", "2002", "2003"] && talking($0) }) { return call }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let conference = try #require(call["conference"]?.objectValue)
            #expect(conference["room"]?.stringValue == room["number"]?.stringValue && conference["stale"] == false, "\(conference)")
        }
        // The collaboration server dies: the conference goes on, RTP flowing to all three.
        kill(collab.process.process.processIdentifier, SIGKILL)
        _ = try await collab.process.waitForExit(within: 10)
        for (user, phone) in phones {
            let states = phone.states()
            _ = try await states.next("\(user) in limited functionality", within: 10) { $0.mode == "offline" }
            await states.close()
        }
        for (user, phone) in phones {
            guard let call = try await phone.calls().first(where: { $0.callState == "connected" }), let id = call["id"]?.stringValue else {
                Issue.record("\(user) has no connected call after the kill"); continue
            }
            let before = call.packetsReceived
            _ = try await phone.waitForCall(id, "\(user) still hearing the room", within: 10) { $0.callState == "connected" && $0.packetsReceived > before + 150 }
            // Offline the list stays as last known, greyed.
            #expect(call["conference"]?.objectValue?["stale"] == true && listed(call).count == 3, "\(user): \(call["conference"] ?? .null)")
        }
        // 2002 and 2003 hang up, then 2001.
        for user in ["2002", "2003", "2001"] {
            for call in try await phones[user]!.calls() where call.callState == "connected" {
                if let id = call["id"]?.stringValue { _ = try await phones[user]!.request("POST", "calls/\(id)/end") }
            }
        }
        try await withTimeout(15, "every call ended on the call server") {
            while try await !cti.request("GET", "calls").array.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        for (user, own) in tones {
            let audio = try await withTimeout(10, "\(user)'s recording") {
                while true {
                    if let samples = try? WAV.read(files[user]!), samples.count > 8000 * 4 { return samples }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            // The three seconds in the room after the kill (before the hang-ups at the end).
            let window = Array(audio.dropLast(8000).suffix(24_000))
            let p = Dictionary(uniqueKeysWithValues: tones.map(\.1).map { f in (f, AudioAnalysis.power(window, at: f)) })
            for (_, other) in tones where other != own {
                #expect(p[other]! > 100 * p[own]!, "\(user) (sending \(own) Hz) hears \(other) Hz at \(p[other]!), its own at \(p[own]!)")
            }
        }
    }

    /// linphone, a phone the project did not write: in a call with baresip, it sends baresip to the
    /// room with a REFER to the room's URI (the call server relays it, baresip dials the room),
    /// then dials the room itself; the two are in one room and linphone hears baresip's tone.
    @Test func linphoneReferTheOtherPartyIntoARoomThenJoinsIt() async throws {
        let pbx = try await PBXProcess.start(extra: Self.rooms)
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let cti = CTIClient(port: pbx.ctiPort)
        let ada = try Linphone.start("2001", pbxPort: pbx.port, frequency: 700)
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true)
        let brookProcess = try brook.start(seconds: 30)
        try await LinphoneInteropTests.registered(["2001", "2002"], events: events)
        ada.command("call sip:2002@127.0.0.1:\(pbx.port)")
        try await ada.waitFor("connected.")
        ada.command("transfer \(try ada.callID()) sip:5100@127.0.0.1:\(pbx.port)")
        try await ada.waitFor("has been transfered")
        let joined = try await events.next("baresip in room 5100 by the REFER", within: 15) { $0["type"]?.stringValue == "conference.joined" }
        #expect(joined["room"] == .string("5100"))
        #expect(try await Self.participants(cti, "5100").map { $0["number"] } == [.string("2002")])
        ada.command("call sip:5100@127.0.0.1:\(pbx.port)")
        _ = try await events.next("linphone in room 5100", within: 15) { $0["type"]?.stringValue == "conference.joined" }
        #expect(Set(try await Self.participants(cti, "5100").compactMap { $0["number"]?.stringValue }) == ["2001", "2002"])
        try await ada.waitFor("connected.", count: 2)
        let adaHears = ada.recordAnew("room.wav")
        try await Task.sleep(for: .seconds(3))  // three seconds in the room
        await ada.stop()
        brookProcess.terminate()
        _ = try? await brookProcess.waitForExit(within: 10)
        await events.close()
        // linphone records at its own rate: sox makes it 8 kHz mono 16-bit for the Goertzel check.
        let converted = adaHears.deletingPathExtension().appendingPathExtension("8k.wav")
        try await ExternalProcess("sox", [adaHears.path, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", converted.path], name: "sox-8k").waitForExit(within: 30)
        let heard = try Self.powers(converted, at: [700, 900], lastSeconds: 2)
        #expect(heard[900]! > 100 * heard[700]!, "linphone heard baresip's 900 Hz at \(heard[900]!), its own 700 Hz at \(heard[700]!)")
    }

    @Test func room5101RefusesAWrongPINThreeTimesAndTakesTheRightOne() async throws {
        let pbx = try await PBXProcess.start(extra: Self.rooms)
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        // Three wrong PINs: the room says so and hangs up, long before the caller would.
        let wrong = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5101@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                     "--dtmf", "1111#2222#3333#", "--hangup-after", "60", "--json"], name: "conf-wrong-pin")
        let started = ContinuousClock.now
        let ended = try await events.next("the room to hang up on three wrong PINs", within: 45) { $0["type"]?.stringValue == "call.ended" || $0["type"]?.stringValue == "conference.joined" }
        #expect(ended["type"] == .string("call.ended"), "a wrong PIN joined: \(ended)")
        #expect(ContinuousClock.now - started < .seconds(45))
        _ = try await wrong.waitForExit(within: 10)
        // The right PIN (typed ahead of the prompt's end) joins.
        let right = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5101@127.0.0.1:\(pbx.port)", "--user", "2002", "--password", "pw2002",
                                                                     "--dtmf", "4321#", "--hangup-after", "4", "--json"], name: "conf-right-pin")
        let joined = try await events.next("the right PIN to join", within: 20) { $0["type"]?.stringValue == "conference.joined" }
        #expect(joined["room"] == .string("5101"))
        let cti = CTIClient(port: pbx.ctiPort)
        let status = try await cti.request("GET", "conferences/5101")
        #expect(status.json["hasPIN"] == .bool(true) && status.json["pin"] == nil, "\(status.json)")
        #expect(status.json["participants"]?.arrayValue?.first?.objectValue?["number"] == .string("2002"), "\(status.json)")
        _ = try await right.waitForExit(within: 20)
        await events.close()
    }

    @Test func ctiMutesRemovesAndLocks() async throws {
        let pbx = try await PBXProcess.start(extra: Self.rooms)
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let cti = CTIClient(port: pbx.ctiPort)
        let talker = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5100@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                      "--tone", "800", "--hangup-after", "60"], name: "conf-talker")
        let first = try await events.next("the talker in", within: 15) { $0["type"]?.stringValue == "conference.joined" }
        guard let talkerID = first["participant"]?.stringValue else { Issue.record("\(first)"); return }
        let talking = try await events.next("the talker talking", within: 10) { $0["type"]?.stringValue == "conference.talking" && $0["talking"] == .bool(true) }
        #expect(talking["participant"] == .string(talkerID))
        let listener = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5100@127.0.0.1:\(pbx.port)", "--user", "2002", "--password", "pw2002",
                                                                        "--hangup-after", "60"], name: "conf-listener")
        _ = try await events.next("the listener in", within: 15) { $0["type"]?.stringValue == "conference.joined" }

        let muted = try await cti.request("PATCH", "conferences/5100/participants/\(talkerID)", body: #"{"muted": true}"#)
        #expect(muted.status == 200, "\(muted.json)")
        #expect(muted.json["participants"]?.arrayValue?.first { $0.objectValue?["id"] == .string(talkerID) }?.objectValue?["muted"] == .bool(true))
        let bad = try await cti.request("PATCH", "conferences/5100/participants/\(talkerID)", body: #"{"muted": "yes"}"#)
        #expect(bad.status == 400 && bad.json["field"] == .string("muted"), "\(bad.json)")
        let nobody = try await cti.request("PATCH", "conferences/5100/participants/nobody", body: #"{"muted": true}"#)
        #expect(nobody.status == 404, "\(nobody.json)")
        let noRoom = try await cti.request("GET", "conferences/5199")
        #expect(noRoom.status == 404, "\(noRoom.json)")

        let locked = try await cti.request("PATCH", "conferences/5100", body: #"{"locked": true}"#)
        #expect(locked.status == 200 && locked.json["locked"] == .bool(true), "\(locked.json)")
        // A third caller finds the room locked: it hears so and is hung up; nobody joins.
        let late = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5100@127.0.0.1:\(pbx.port)", "--user", "2003", "--password", "pw2003",
                                                                    "--hangup-after", "60"], name: "conf-late")
        let refused = try await events.next("the locked room to hang up", within: 20) {
            $0["type"]?.stringValue == "call.ended" || $0["type"]?.stringValue == "conference.joined"
        }
        #expect(refused["type"] == .string("call.ended"), "joined a locked room: \(refused)")
        _ = try await late.waitForExit(within: 10)

        let removed = try await cti.request("DELETE", "conferences/5100/participants/\(talkerID)")
        #expect(removed.status == 200, "\(removed.json)")
        #expect(removed.json["participants"]?.arrayValue?.count == 1, "\(removed.json)")
        let left = try await events.next("the talker out", within: 10) { $0["type"]?.stringValue == "conference.left" }
        #expect(left["participant"] == .string(talkerID))
        _ = try await talker.waitForExit(within: 10)
        #expect(listener.process.isRunning, "the listener's call ended with the talker's")
        listener.terminate()
        await events.close()
    }

    @Test func aParticipantWhoseRTPStopsIsTakenOutAfterTheRTPTimeout() async throws {
        let pbx = try await PBXProcess.start(extra: Self.rooms + "\nmedia: { rtpTimeoutSeconds: 3 }")
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let stays = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5100@127.0.0.1:\(pbx.port)", "--user", "2001", "--password", "pw2001",
                                                                     "--hangup-after", "60"], name: "conf-stays")
        _ = try await events.next("the first in", within: 15) { $0["type"]?.stringValue == "conference.joined" }
        let dies = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:5100@127.0.0.1:\(pbx.port)", "--user", "2002", "--password", "pw2002",
                                                                    "--hangup-after", "60"], name: "conf-dies")
        let joined = try await events.next("the second in", within: 15) { $0["type"]?.stringValue == "conference.joined" }
        // SIGKILL: no BYE, no more RTP; the room notices by the RTP timeout (3 s here, 30 by default).
        kill(dies.process.processIdentifier, SIGKILL)
        let left = try await events.next("the dead phone taken out", within: 20) { $0["type"]?.stringValue == "conference.left" }
        #expect(left["participant"] == joined["participant"])
        #expect(stays.process.isRunning, "the other participant's call ended too")
        stays.terminate()
        await events.close()
    }
}
