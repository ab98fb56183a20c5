// Recall against real phones: a call that was let go comes back. linphone's own blind transfer
// (REFER) to a baresip that does not answer rings linphone again, marked as a recall; a CTI blind
// transfer unanswered comes back to the baresip that transferred; a call linphone holds too long
// rings linphone back, and answering takes the held party back on the new call.

import CallServer
import Foundation
import TestSupport
import Testing

@Suite(.serialized, .realPeers) struct RecallInteropTests {
    static let timers = "recall: { transferSeconds: 3, holdSeconds: 3 }"

    /// The audio linphone hears after the recall: the other party's tone, not its own.
    func linphoneHears(_ linphone: Linphone, _ frequency: Double, _ other: Double, _ what: String) async throws {
        let hears = linphone.recordAnew("after-recall.wav")
        try await Task.sleep(for: .seconds(3))  // three seconds of the call taken back
        await linphone.stop()
        let converted = hears.deletingPathExtension().appendingPathExtension("8k.wav")
        try await ExternalProcess("sox", [hears.path, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", converted.path], name: "sox-8k").waitForExit(within: 30)
        let heard = try ConferenceInteropTests.powers(converted, at: [frequency, other], lastSeconds: 2)
        #expect(heard[frequency]! > 100 * heard[other]!, "\(what): linphone heard \(frequency) Hz at \(heard[frequency]!), its own \(other) Hz at \(heard[other]!)")
    }

    @Test func linphoneBlindTransferByREFERComesBackWhenTheTargetDoesNotAnswer() async throws {
        let office = try await LinphoneOffice.start(extra: Self.timers, cy: true)
        defer { office.stop() }
        let (pbx, events, ada) = (office.pbx, office.events, office.ada)
        try await ada.waitFor("connected.")
        // Blind: linphone sends the REFER and is done (2003 never answers, so no NOTIFY says 200).
        ada.command("transfer \(try ada.callID()) sip:2003@127.0.0.1:\(pbx.port)")
        // baresip 2002 calls 2003 as told; 2003 rings and nobody answers.
        let ringing = try await events.next("baresip's call to 2003 ringing", within: 15) {
            $0["type"]?.stringValue == "call.ringing" && $0["callee"]?.stringValue == "2003"
        }
        #expect(ringing["caller"] == .string("2002"))
        let recalled = try await events.next("the recall to 2001", within: 15) { $0["type"]?.stringValue == "call.recalled" }
        #expect(recalled["party"] == .string("2001") && recalled["from"] == .string("2003") && recalled["reason"] == .string("transfer"))
        // linphone shows who comes back and why (From's display name).
        try await ada.waitFor("Recall: 2003 did not answer — Brook Taylor", within: 10)
        ada.command("answer \(try ada.callID(2))")
        try await ada.waitFor("connected.", count: 2)
        try await linphoneHears(ada, 900, 700, "after the recall")
        await events.close()
        let records = try FeatureStore(directory: pbx.dataDirectory).records(after: 0)
        #expect(records.contains { $0.caller == "2002" && $0.path == ["2003", "recall", "2001"] }, "\(records.map(\.path))")
    }

    @Test func aCTIBlindTransferNobodyAnswersComesBackToTheTransferrer() async throws {
        let office = try await LinphoneOffice.start(extra: Self.timers, cy: true)
        defer { office.stop() }
        let (pbx, events, ada) = (office.pbx, office.events, office.ada)
        let answered = try await events.next(type: "call.answered", within: 10)
        guard case .string(let id)? = answered["call"] else { Issue.record("no call id"); return }
        try await ada.waitFor("connected.")
        let cti = CTIClient(port: pbx.ctiPort)
        let path = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? id
        let transfer = try await cti.request("POST", "calls/\(path)/transfer", body: #"{"party": "2002", "to": "2003"}"#)
        #expect(transfer.status == 202, "\(transfer.json)")
        let failed = try await events.next(type: "call.transferFailed", within: 15)
        #expect(failed["to"] == .string("2003"))
        let recalled = try await events.next(type: "call.recalled", within: 5)
        #expect(recalled["party"] == .string("2002") && recalled["from"] == .string("2003") && recalled["reason"] == .string("transfer"))
        // baresip 2002 answers its recall by itself: linphone is re-bridged to it.
        let transferred = try await events.next(type: "call.transferred", within: 15)
        #expect(transferred["callee"] == .string("2002") && transferred["rebridged"] == .bool(true), "\(transferred)")
        let live = try await cti.request("GET", "calls")
        let shown = live.array.first { $0.objectValue?["call"]?.stringValue == id }?.objectValue?["recall"]?.objectValue
        #expect(shown?["from"] == .string("2003") && shown?["reason"] == .string("transfer"), "\(live.array)")
        try await linphoneHears(ada, 900, 700, "after the transfer's recall")
        await events.close()
        let records = try FeatureStore(directory: pbx.dataDirectory).records(after: 0)
        #expect(records.last?.path == ["2002", "transfer", "2003", "recall", "2002"], "\(records.map(\.path))")
    }

    @Test func aCallLinphoneHoldsTooLongRingsItBackAndAnsweringTakesItBack() async throws {
        let office = try await LinphoneOffice.start(extra: Self.timers, cy: false)
        defer { office.stop() }
        let (events, ada) = (office.events, office.ada)
        try await ada.waitFor("connected.")
        ada.command("pause")
        try await ada.waitFor("paused")
        let recalled = try await events.next(type: "call.recalled", within: 15)
        #expect(recalled["party"] == .string("2001") && recalled["reason"] == .string("hold"))
        try await ada.waitFor("Recall: on hold — Brook Taylor", within: 10)
        ada.command("answer \(try ada.callID(2))")
        let retrieved = try await events.next(type: "call.retrieved", within: 15)
        #expect(retrieved["party"] == .string("2001"))
        // The held call ends; the new one carries baresip's audio.
        try await ada.waitFor("ended", within: 10)
        try await linphoneHears(ada, 900, 700, "after taking the held call back")
        await events.close()
    }
}
