// Call park against real phones: linphone blind-transfers baresip to *70 (REFER), the call server
// parks it in 701 with music; another phone dials 701 and talks to baresip; a call left parked
// past the park timer rings linphone again, marked as a recall from the slot.

import CallServer
import Foundation
import TestSupport
import Testing
import Wire

@Suite(.serialized, .realPeers) struct ParkInteropTests {
    static let park = "park: { code: \"*70\", first: 701, last: 703, seconds: 4 }"

    @Test func linphoneParksBaresipByTransferToStarSeventyAndAnotherPhoneRetrievesIt() async throws {
        let office = try await LinphoneOffice.start(extra: Self.park, cy: false)
        defer { office.stop() }
        let (pbx, events, ada) = (office.pbx, office.events, office.ada)
        try await ada.waitFor("connected.")
        ada.command("transfer \(try ada.callID()) sip:*70@127.0.0.1:\(pbx.port)")
        let parked = try await events.next(type: "park.changed", within: 15)
        #expect(parked["slot"] == .string("701") && parked["parker"] == .string("2001"), "\(parked)")
        let cti = CTIClient(port: pbx.ctiPort)
        let slots = try await cti.request("GET", "park")
        #expect(slots.array.first?.objectValue?["parked"] == .string("2002"), "\(slots.array)")
        let lamp = try await cti.request("GET", "lamps").array.first { $0.objectValue?["number"] == .string("701") }?.objectValue
        #expect(lamp?["state"] == .string("parked") && lamp?["remote"] == .string("2002"), "the slot's lamp: \(String(describing: lamp))")
        // 2003 dials 701 and hears baresip's 900 Hz.
        let heard = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-park-\(UUID()).wav")
        let retriever = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:701@127.0.0.1:\(pbx.port)", "--user", "2003", "--password", "pw2003",
                                                                         "--hangup-after", "3", "--record", heard.path, "--json"], name: "retrieve-701")
        let emptied = try await events.next(type: "park.changed", within: 15)
        #expect(emptied["slot"] == .string("701") && emptied["call"] == .null, "\(emptied)")
        #expect(try await retriever.waitForExit(within: 30) == 0, "\(retriever.outputTail())")
        let frequency = try await Sox.roughFrequency(heard)
        #expect(abs(frequency - 900) < 45, "2003 heard \(frequency) Hz from the retrieved call, expected baresip's 900")
        // An empty slot says so and hangs up (a short call, no retrieval).
        let empty = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:702@127.0.0.1:\(pbx.port)", "--user", "2003", "--password", "pw2003",
                                                                     "--hangup-after", "20", "--json"], name: "empty-702")
        #expect(try await empty.waitForExit(within: 30) == 0, "\(empty.outputTail())")
        let said = try #require(MediaInteropTests().summaries(empty).first, "no JSON from sip call: \(empty.outputTail())")
        #expect(said.packetsReceived > 50 && said.durationMs < 15_000, "the empty slot said so (\(said.packetsReceived) packets) and hung up (\(said.durationMs) ms)")
        await ada.stop()
        await events.close()
        let records = try FeatureStore(directory: pbx.dataDirectory).records(after: 0)
        #expect(records.contains { $0.path.starts(with: ["2002", "park", "701", "retrieved", "2003"]) }, "\(records.map(\.path))")
    }

    /// baresip 1.0 keys digits by RFC 4733 only (phone to phone, unseen by the call server), so
    /// its way to park is the blind transfer to the park code.
    @Test func aBaresipParksByTransferToStarSeventy() async throws {
        let pbx = try await PBXProcess.start(extra: Self.park)
        defer { pbx.process.terminate() }
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let ada = try Baresip(number: "2001", pbxPort: pbx.port, sourceFrequency: 700, autoAnswer: false)
        let brook = try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true)
        let brookProcess = try brook.start(seconds: 40)
        defer { brookProcess.terminate() }
        try await LinphoneInteropTests.registered(["2002"], events: events)
        let adaProcess = try ada.start(seconds: 40, commands: ["/dial sip:2002@127.0.0.1:\(pbx.port)"], takesInput: true)
        defer { adaProcess.terminate() }
        _ = try await events.next(type: "call.answered", within: 15)
        adaProcess.send("/transfer sip:*70@127.0.0.1:\(pbx.port)")
        let parked = try await events.next(type: "park.changed", within: 15)
        #expect(parked["slot"] == .string("701") && parked["parker"] == .string("2001"), "\(parked)")
        let heard = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-park-\(UUID()).wav")
        let retriever = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:701@127.0.0.1:\(pbx.port)", "--user", "2003", "--password", "pw2003",
                                                                         "--hangup-after", "3", "--record", heard.path, "--json"], name: "retrieve-701")
        #expect(try await retriever.waitForExit(within: 30) == 0, "\(retriever.outputTail())")
        let frequency = try await Sox.roughFrequency(heard)
        #expect(abs(frequency - 900) < 45, "2003 heard \(frequency) Hz from the call baresip parked, expected 900")
        await events.close()
    }

    @Test func aCallLeftParkedRingsItsParkerAgain() async throws {
        let office = try await LinphoneOffice.start(extra: Self.park, cy: false)
        defer { office.stop() }
        let (pbx, events, ada) = (office.pbx, office.events, office.ada)
        try await ada.waitFor("connected.")
        ada.command("transfer \(try ada.callID()) sip:*70@127.0.0.1:\(pbx.port)")
        _ = try await events.next(type: "park.changed", within: 15)
        let recalled = try await events.next(type: "call.recalled", within: 15)
        #expect(recalled["party"] == .string("2001") && recalled["from"] == .string("701") && recalled["reason"] == .string("park"))
        try await ada.waitFor("Recall: parked on 701 — Brook Taylor", within: 10)
        ada.command("answer \(try ada.callID(2))")
        try await ada.waitFor("connected.", count: 2)
        let hears = ada.recordAnew("after-park.wav")
        try await Task.sleep(for: .seconds(3))  // three seconds of the call taken back
        await ada.stop()
        await events.close()
        let converted = hears.deletingPathExtension().appendingPathExtension("8k.wav")
        try await ExternalProcess("sox", [hears.path, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", converted.path], name: "sox-8k").waitForExit(within: 30)
        let heard = try ConferenceInteropTests.powers(converted, at: [900, 700], lastSeconds: 2)
        #expect(heard[900]! > 100 * heard[700]!, "linphone heard 900 Hz at \(heard[900]!), its own 700 Hz at \(heard[700]!)")
    }
}
