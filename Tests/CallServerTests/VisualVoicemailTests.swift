// Visual voicemail through CTI: a user's mailbox listed, a message's audio fetched, marked heard,
// deleted, with `voicemail.waiting` on the event stream each time; another's messages not found.

import Audio
import CTI
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SIP
import SIPMessage
import TestSupport
import MediaServices
import Voicemail
import Wire
@testable import CallServer

@Suite(.serialized, .realPeers) struct VisualVoicemailTests {
    static func leave(_ server: CallServer, for mailbox: String, from caller: String, seconds: Double) throws -> VoicemailMessage {
        let store = try #require(server.mailboxes)
        let url = try store.recordingURL(mailbox: mailbox, caller: caller, at: Date().timeIntervalSince1970)
        try WAV.write([Int16](repeating: 1200, count: Int(seconds * 8000)), to: url)
        return try store.deposit(recording: url, mailbox: mailbox, caller: caller, callerName: "Ada Lovelace",
                                 receivedAt: Date().timeIntervalSince1970, seconds: seconds)
    }

    @Test func aMailboxIsListedPlayedMarkedHeardAndDeletedWithMessageWaitingOnTheStream() async throws {
        let (server, cti, client) = try await startCTI()
        let events = EventStreamClient(port: cti.port)
        _ = try await events.next(type: "hello")
        let message = try Self.leave(server, for: "2002", from: "2001", seconds: 3)
        let left = try await events.next(type: "voicemail.waiting")
        #expect(left["user"] == "2002" && left["new"] == 1 && left["old"] == 0)

        let mailbox = try await client.request("GET", "users/2002/voicemail")
        #expect(mailbox.status == 200 && mailbox["waiting"]?.objectValue?["new"] == 1, "\(mailbox.json)")
        let listed = try #require(mailbox["messages"]?.arrayValue?.first?.objectValue)
        #expect(listed["id"] == .int(message.id) && listed["caller"] == "2001" && listed["callerName"] == "Ada Lovelace" && listed["folder"] == "INBOX")

        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(cti.port)/cti/v1/users/2002/voicemail/\(message.id)/audio")!)
        request.setValue("Bearer \(ctiSecret)", forHTTPHeaderField: "Authorization")
        let (audio, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200 && (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type") == "audio/wav")
        #expect(try WAV.decode(Array(audio)).count == 24000)

        let heard = try await client.request("PATCH", "users/2002/voicemail/\(message.id)", body: #"{"folder": "Old"}"#)
        #expect(heard.status == 200 && heard["folder"] == "Old")
        let afterHeard = try await events.next(type: "voicemail.waiting")
        #expect(afterHeard["new"] == 0 && afterHeard["old"] == 1)
        let badFolder = try await client.request("PATCH", "users/2002/voicemail/\(message.id)", body: #"{"folder": "Trash"}"#)
        #expect(badFolder.status == 400 && badFolder["field"] == "folder", "\(badFolder.json)")

        // Another user's message is not found under one's own mailbox.
        let notYours = try await client.request("DELETE", "users/2003/voicemail/\(message.id)")
        #expect(notYours.status == 404 && notYours["error"] == "no_message", "\(notYours.json)")
        let notANumber = try await client.request("DELETE", "users/2002/voicemail/abc")
        #expect(notANumber.status == 400 && notANumber["field"] == "id")
        let deleted = try await client.request("DELETE", "users/2002/voicemail/\(message.id)")
        #expect(deleted.status == 200 && deleted["deleted"] == true)
        let afterDelete = try await events.next(type: "voicemail.waiting")
        #expect(afterDelete["new"] == 0 && afterDelete["old"] == 0)
        #expect(try await client.request("GET", "users/2002/voicemail")["messages"]?.arrayValue?.isEmpty == true)
        #expect(try await client.request("GET", "users/2999/voicemail").status == 404)
        await events.close()
        await cti.shutdown()
        await server.shutdown()
    }
}

@Suite(.serialized, .realPeers) struct MessageWaitingSubscriptionTests {
    @Test func aSubscriptionIsForOnesOwnMailboxForAMinuteOrMoreAndItsRefreshAndEndWork() async throws {
        let (server, _) = try await startServer()
        let ada = try await Phone.register("2001", server: server)
        let target = SIPTarget(kind: .udp, host: "127.0.0.1", port: server.sipPort)
        do {
            _ = try await ada.ua.subscribe(event: "message-summary", accept: "application/simple-message-summary",
                                           to: SIPURI(user: "2001", host: "127.0.0.1"), via: target, expires: 10)
            Issue.record("a 10 s subscription was taken")
        } catch UserAgentError.rejected(let status, _) {
            #expect(status == 423, "Interval Too Brief")
        }
        do {
            _ = try await ada.ua.subscribe(event: "message-summary", accept: "application/simple-message-summary",
                                           to: SIPURI(user: "2002", host: "127.0.0.1"), via: target, expires: 600)
            Issue.record("2001 watches 2002's mailbox")
        } catch UserAgentError.rejected(let status, _) {
            #expect(status == 403)
        }
        let (id, granted) = try await ada.ua.subscribe(event: "message-summary", accept: "application/simple-message-summary",
                                                       to: SIPURI(user: "2001", host: "127.0.0.1"), via: target, expires: 600)
        #expect(granted == 600)
        #expect(try await ada.ua.refreshSubscription(id, event: "message-summary", expires: 1200) == 1200)
        #expect(try await ada.ua.refreshSubscription(id, event: "message-summary", expires: 0) == 0)
        await #expect(throws: UserAgentError.self) { try await ada.ua.refreshSubscription(id, event: "message-summary", expires: 600) }
        await ada.shutdown()
        await server.shutdown()
    }
}

@Suite struct VoicemailRequestSigningTests {
    @Test func onlyTheCallServersSignatureForThatCallOpensAMailbox() {
        let key = VoicemailContext.newKey()
        let asked = VoicemailRequest(.retrieve(mailbox: "2002", verified: true))
        let value = asked.signed(callID: "c1@host", key: key)
        #expect(VoicemailRequest.verified(value, callID: "c1@host", key: key) == asked)
        #expect(VoicemailRequest.verified(value, callID: "c2@host", key: key) == nil, "another call")
        #expect(VoicemailRequest.verified(value, callID: "c1@host", key: VoicemailContext.newKey()) == nil, "another key")
        #expect(VoicemailRequest.verified(value.replacingOccurrences(of: "2002", with: "2003"), callID: "c1@host", key: key) == nil, "another mailbox")
        #expect(VoicemailRequest.verified("retrieve;mailbox=2002;verified", callID: "c1@host", key: key) == nil, "unsigned")
        #expect(VoicemailRequest.verified("retrieve;mailbox=2002;verified;sig=zz", callID: "c1@host", key: key) == nil, "not hex")
    }
}
