// The phone session: hello and welcome, heartbeats, resume from a sequence or a snapshot,
// presence fan-out, chat with receipts, contacts, and errors that name the field.

import Collab
import Foundation
import HummingbirdTesting
import Testing
import TestSupport
import Wire

@Suite struct SessionTests {
    @Test func heartbeatsAreAnsweredWithTheirID() async throws {
        try await withCollab { _, http in
            let session = SessionClient(port: http.port, token: try await http.login("2001"))
            let welcome = try await session.next("welcome") { $0["type"] == "welcome" }
            #expect(welcome["resumed"] == false && welcome["heartbeatSeconds"] == 2 && welcome["snapshot"] != nil)
            session.send(["type": "heartbeat", "id": 41])
            // The client's own keep-alive heartbeats are answered too: the one sent here is found by its id.
            let beat = try await session.next("the heartbeat reply to id 41") { $0["type"] == "heartbeat" && $0["id"] == 41 }
            #expect(beat["time"]?.stringValue != nil)
            await session.close()
        }
    }

    @Test func aSilentPhoneIsDroppedAndShownOffline() async throws {
        // Heartbeats every 2 s: a phone silent for three (6 s) is dropped. Ada beats every 0.5 s, so
        // her session survives a stall of more than 5 s of this process on a loaded machine.
        try await withCollab(Office.configuration(heartbeat: 2)) { _, http in
            let ada = SessionClient(port: http.port, token: try await http.login("2001"), heartbeat: 0.5)
            _ = try await ada.next("welcome") { $0["type"] == "welcome" }
            let brook = SessionClient(port: http.port, token: try await http.login("2002"), heartbeat: nil)
            _ = try await brook.next("welcome") { $0["type"] == "welcome" }
            _ = try await ada.event("presence.changed") { $0["user"] == "2002" && $0["state"] == "available" }
            // Brook sends nothing more: after three heartbeat intervals (at least 6 s) the server closes its session.
            let offline = try await ada.event("presence.changed", within: 20) { $0["user"] == "2002" && $0["state"] == "offline" }
            #expect(offline["updatedAt"]?.stringValue != nil)
            #expect(await brook.isClosed, "the server closed Brook's session")
            #expect(!(await ada.isClosed), "Ada, sending heartbeats, stays")
            await ada.close()
            await brook.close()
        }
    }

    @Test func aReconnectingPhoneResumesFromItsSequenceOrGetsASnapshot() async throws {
        try await withCollab { _, http in
            let adaToken = try await http.login("2001")
            let first = SessionClient(port: http.port, token: adaToken)
            let welcome = try await first.next("welcome") { $0["type"] == "welcome" }
            let presence = try await first.event("presence.changed") { $0["user"] == "2001" }
            let epoch = welcome["epoch"]!, seen = presence["sequence"]!
            await first.close()
            // While Ada is away, Brook writes to her.
            let brook = SessionClient(port: http.port, token: try await http.login("2002"))
            _ = try await brook.next("welcome") { $0["type"] == "welcome" }
            let sent = try await brook.call("chat.send", ["to": "2001", "text": "are you there?"])
            #expect(sent["result"]?.objectValue?["deliveredAt"] == nil || sent["result"]?.objectValue?["deliveredAt"] == .null)
            // Resume: no snapshot, and the events missed come first, in order.
            let again = SessionClient(port: http.port, token: adaToken, hello: ["type": "hello", "after": seen, "epoch": epoch])
            let resumed = try await again.next("welcome") { $0["type"] == "welcome" }
            #expect(resumed["resumed"] == true && resumed["snapshot"] == nil, "\(resumed)")
            let chat = try await again.event("chat.message") { $0["text"] == "are you there?" }
            #expect((chat["sequence"]?.intValue ?? 0) > (seen.intValue ?? 0))
            let receipt = try await brook.event("chat.delivered")
            #expect(receipt["id"] == chat["id"])
            await again.close()
            // Another epoch (a restarted server) cannot be resumed: a snapshot instead.
            let stale = SessionClient(port: http.port, token: adaToken, hello: ["type": "hello", "after": 1, "epoch": "another"])
            let snapshot = try await stale.next("welcome") { $0["type"] == "welcome" }
            #expect(snapshot["resumed"] == false && snapshot["snapshot"]?.objectValue?["presence"] != nil)
            await stale.close()
            await brook.close()
        }
    }

    @Test func presenceIsFannedOutWithANoteAndTheTimeItChanged() async throws {
        try await withCollab { _, http in
            let ada = SessionClient(port: http.port, token: try await http.login("2001"))
            let brook = SessionClient(port: http.port, token: try await http.login("2002"))
            _ = try await brook.next("welcome") { $0["type"] == "welcome" }
            let set = try await ada.call("presence.set", ["state": "away", "note": "back at 3"])
            #expect(set["result"]?.objectValue?["state"] == "away", "\(set)")
            let seen = try await brook.event("presence.changed") { $0["user"] == "2001" && $0["state"] == "away" }
            #expect(seen["note"] == "back at 3" && seen["onThePhone"] == false && seen["updatedAt"]?.stringValue != nil)
            let list = try await brook.call("presence.list")
            #expect(list["result"]?.arrayValue?.count == 3)
            let bad = try await ada.call("presence.set", ["state": "sleeping"])
            #expect(bad["error"]?.objectValue?["error"] == "invalid_value" && bad["error"]?.objectValue?["field"] == "state")
            let offline = try await ada.call("presence.set", ["state": "offline"])
            #expect(offline["error"]?.objectValue?["field"] == "state", "offline is not chosen, it is what having no session means")
            await ada.close()
            await brook.close()
        }
    }

    @Test func chatIsDeliveredReadAndPagedInOrder() async throws {
        try await withCollab { _, http in
            let ada = SessionClient(port: http.port, token: try await http.login("2001"))
            let brook = SessionClient(port: http.port, token: try await http.login("2002"))
            _ = try await ada.next("welcome") { $0["type"] == "welcome" }
            _ = try await brook.next("welcome") { $0["type"] == "welcome" }
            var ids: [Int64] = []
            for n in 1...5 {
                let sent = try await ada.call("chat.send", ["to": "2002", "text": .string("message \(n)")])
                let message = try #require(sent["result"]?.objectValue)
                #expect(message["deliveredAt"]?.stringValue != nil, "Brook is online: delivered at once")
                ids.append(message["id"]?.intValue ?? 0)
                _ = try await brook.event("chat.message") { $0["text"] == .string("message \(n)") }
            }
            let read = try await brook.call("chat.read", ["with": "2001", "upTo": .int(ids[2])])
            #expect(read["result"]?.objectValue?["updated"] == 3)
            for _ in 0..<3 { _ = try await ada.event("chat.read") }
            let page = try await ada.call("chat.history", ["with": "2002", "limit": 2])
            let texts = page["result"]?.arrayValue?.compactMap { $0.objectValue?["text"]?.stringValue }
            #expect(texts == ["message 5", "message 4"], "newest first")
            let older = try await ada.call("chat.history", ["with": "2002", "before": .int(ids[3]), "limit": 10])
            #expect(older["result"]?.arrayValue?.count == 3)
            let nobody = try await ada.call("chat.send", ["to": "2999", "text": "hello?"])
            #expect(nobody["error"]?.objectValue?["error"] == "unknown_user" && nobody["error"]?.objectValue?["field"] == "to")
            await ada.close()
            await brook.close()
        }
    }

    @Test func contactsAndDirectoryAreSearchedByNameOrNumberPrefix() async throws {
        try await withCollab { _, http in
            let ada = SessionClient(port: http.port, token: try await http.login("2001"))
            let added = try await ada.call("contacts.add", ["name": "Plumber", "number": "+44 20 7946 0999"])
            let id = try #require(added["result"]?.objectValue?["id"])
            _ = try await ada.event("contacts.changed")
            let updated = try await ada.call("contacts.update", ["id": id, "note": "after 6 only"])
            #expect(updated["result"]?.objectValue?["note"] == "after 6 only" && updated["result"]?.objectValue?["name"] == "Plumber")
            #expect(try await ada.call("contacts.search", ["query": "plum"])["result"]?.arrayValue?.count == 1)
            #expect(try await ada.call("contacts.search", ["query": "4420"])["result"]?.arrayValue?.count == 1)
            let people = try await ada.call("directory.search", ["query": "tay"])
            #expect(people["result"]?.arrayValue?.compactMap { $0.objectValue?["number"]?.stringValue } == ["2002"])
            #expect(try await ada.call("directory.search", ["query": "200"])["result"]?.arrayValue?.count == 3)
            let badNumber = try await ada.call("contacts.add", ["name": "X", "number": "call me"])
            #expect(badNumber["error"]?.objectValue?["field"] == "number")
            let deleted = try await ada.call("contacts.delete", ["id": id])
            #expect(deleted["result"] != nil)
            let gone = try await ada.call("contacts.delete", ["id": id])
            #expect(gone["error"]?.objectValue?["error"] == "unknown_contact")
            let unknown = try await ada.call("contacts.fly")
            #expect(unknown["error"]?.objectValue?["error"] == "unknown_method")
            await ada.close()
        }
    }

    @Test func loginNotifyTellsTheWatcherWhenTheContactComesOnline() async throws {
        try await withCollab { _, http in
            let ada = SessionClient(port: http.port, token: try await http.login("2001"))
            let watching = try await ada.call("loginNotify.add", ["user": "2003"])
            #expect(watching["result"]?.objectValue?["watching"] == .array(["2003"]))
            let cy = SessionClient(port: http.port, token: try await http.login("2003"))
            let notice = try await ada.event("loginNotify.online")
            #expect(notice["user"] == "2003")
            await cy.close()
            await ada.close()
        }
    }

    @Test func featuresThatNeedTheCallServerFailWithAClearError() async throws {
        try await withCollab { _, http in
            let ada = SessionClient(port: http.port, token: try await http.login("2001"))
            let settings = try await ada.call("settings.set", ["doNotDisturb": true])
            #expect(settings["error"]?.objectValue?["error"] == "call_server_unavailable", "\(settings)")
            let bad = try await ada.call("settings.set", ["doNotDisturbPlease": true])
            #expect(bad["error"]?.objectValue?["error"] == "unknown_field" && bad["error"]?.objectValue?["field"] == "doNotDisturbPlease")
            let dial = try await ada.call("dialing.apply", ["number": "+44 (0)20 7946 0018"])
            #expect(dial["result"]?.objectValue?["number"] == "902079460018")
            await ada.close()
        }
    }

    @Test func notesNamesAndNumbersHaveLengthLimits() async throws {
        try await withCollab { _, http in
            let ada = SessionClient(port: http.port, token: try await http.login("2001"))
            _ = try await ada.next("welcome") { $0["type"] == "welcome" }
            let long = String(repeating: "x", count: 900 * 1024)
            for (method, params, field) in [("presence.set", ["state": JSONValue.string("away"), "note": .string(long)], "note"),
                                            ("contacts.add", ["name": .string(long), "number": "2002"], "name"),
                                            ("contacts.add", ["name": "Plumber", "number": .string(String(repeating: "1", count: 100))], "number"),
                                            ("contacts.add", ["name": "Plumber", "number": "2002", "note": .string(long)], "note")] {
                let refused = try await ada.call(method, params)
                let error = refused["error"]?.objectValue
                #expect(error?["error"] == "invalid_value" && error?["field"] == .string(field), "\(method) \(field): \(String(describing: error))")
            }
            #expect(try await ada.call("presence.set", ["state": "away", "note": .string(String(repeating: "x", count: 256))])["result"] != nil, "256 characters pass")
            await ada.close()
        }
    }

    @Test func recordingsAreUploadedListedAndOnlyTheOwnerDownloadsThem() async throws {
        let directory = Office.temporaryDirectory()
        try await withCollab(directory: directory) { _, http in
            let ada = try await http.login("2001")
            var wav = Data("RIFF".utf8) + Data([36, 0, 0, 0]) + Data("WAVEfmt ".utf8)
            wav += Data(repeating: 0, count: 60)
            let upload = try await http.send("POST", "api/v1/recordings?call=abc&remote=2002", token: ada, body: wav, contentType: "audio/wav")
            #expect(upload.status == 201 && upload.json["remote"] == "2002", "\(upload.json)")
            let id = upload.json["id"]?.intValue ?? 0
            let list = try await http.send("GET", "api/v1/recordings", token: ada)
            #expect(list.status == 200)
            let download = try await http.send("GET", "api/v1/recordings/\(id)", token: ada)
            #expect(download.data == wav)
            let brook = try await http.login("2002")
            #expect(try await http.send("GET", "api/v1/recordings/\(id)", token: brook).status == 404)
            let notWAV = try await http.send("POST", "api/v1/recordings", token: ada, body: Data("hello".utf8), contentType: "audio/wav")
            #expect(notWAV.status == 415 && notWAV.json["error"] == "invalid_recording")
            // Owner-only on disk: the data directory, the database, the recordings and their folder.
            func mode(_ path: String) throws -> Int {
                (try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(path).path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
            }
            for (path, expected) in [("", 0o700), ("recordings", 0o700), ("collab.sqlite", 0o600), ("recordings/\(id).wav", 0o600)] {
                let actual = try mode(path)
                #expect(actual == expected, "\(path.isEmpty ? "the data directory" : path) is \(String(actual, radix: 8))")
            }
        }
    }
}
