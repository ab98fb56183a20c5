// B2BUA routing with real SIP on loopback: identities, failures, DND and each forwarding rule,
// and the CDR log.

import TestSupport
import Foundation
import SIP
import SIPCore
import SIPMessage
import Testing
import Wire
@testable import CallServer

@Suite(.serialized, .realPeers) struct RoutingTests {
    @Test func callCarriesIdentitiesBothWaysAndEndsInTheCDRLog() async throws {
        let (server, _) = try await startServer()
        let ada = try await Phone.register("2001", server: server)
        let brook = try await Phone.register("2002", server: server)
        let leg = try await ada.call("2002", server: server)
        let invite = await brook.behaviour.nextInvite()
        #expect(invite.from?.displayName == "Ada Lovelace")
        #expect(invite.headers[.pAssertedIdentity]?.contains("sip:2001@127.0.0.1") == true)
        #expect(invite.body == officeSDP, "the caller's SDP reaches the callee untouched")
        #expect(leg.finalResponse?.headers[.pAssertedIdentity]?.contains("Brook Taylor") == true, "connected identity in the 200 OK")
        #expect(leg.remoteBody == officeSDP)
        try await ada.ua.hangUp(leg.dialog.id)
        try await brook.ended()
        let records = try server.store.records(after: 0)
        #expect(records.count == 1)
        #expect(records.first?.outcome == "answered")
        #expect(records.first?.caller == "2001" && records.first?.callee == "2002")
        #expect(records.first?.answeredAt != nil)
        await ada.shutdown(); await brook.shutdown(); await server.shutdown()
    }

    @Test func registrationsOutliveARestartOfTheServer() async throws {
        let (first, directory) = try await startServer()
        let brook = try await Phone.register("2002", server: first)
        await first.shutdown()
        let (second, _) = try await startServer(directory: directory)
        #expect(await second.bindings(for: "2002").count == 1, "the binding was read back from the store")
        let ada = try await Phone.register("2001", server: second)
        let leg = try await ada.call("2002", server: second)
        #expect(await brook.behaviour.invites.count == 1, "2002 rings without having registered again")
        try await ada.ua.hangUp(leg.dialog.id)
        // Unregistering removes the stored binding too.
        let cy = try await Phone.register("2003", server: second)
        let updates = cy.registration.updates
        await cy.registration.stop()
        _ = try await firstEvent(within: 5, "2003 unregistered", updates) { if case .unregistered = $0 { true } else { false } }
        let (third, _) = try await startServer(directory: directory)
        #expect(await third.bindings(for: "2003").isEmpty)
        #expect(await third.bindings(for: "2002").count == 1)
        await ada.shutdown(); await brook.shutdown(); await cy.shutdown(); await second.shutdown(); await third.shutdown()
    }

    @Test func unknownNumberForeignDomainAndUnregisteredTarget() async throws {
        let (server, _) = try await startServer(voicemail: false)
        let ada = try await Phone.register("2001", server: server)
        await #expect(throws: UserAgentError.self) { try await ada.call("2999", server: server) }
        do { _ = try await ada.call("2999", server: server) } catch UserAgentError.rejected(let code, _) { #expect(code == 404) }
        do { _ = try await ada.call("2002", server: server, domain: "example.com") } catch UserAgentError.rejected(let code, let reason) {
            #expect(code == 403)
            #expect(reason.contains("no relaying"))
        }
        do { _ = try await ada.call("2003", server: server) } catch UserAgentError.rejected(let code, _) { #expect(code == 480, "2003 is not registered") }
        let outcomes = try server.store.records(after: 0).map(\.outcome)
        #expect(outcomes == ["unavailable"], "only calls that were routed are logged")
        await ada.shutdown(); await server.shutdown()
    }

    @Test func unauthenticatedCallerIsChallengedAndWrongPasswordRefused() async throws {
        let (server, _) = try await startServer()
        let brook = try await Phone.register("2002", server: server)
        await #expect(throws: TestFailure.self) { _ = try await Phone.register("2001", server: server, password: "wrong") }
        await brook.shutdown(); await server.shutdown()
    }

    @Test func doNotDisturbAnswersBusy() async throws {
        let (server, _) = try await startServer()
        let ada = try await Phone.register("2001", server: server)
        let brook = try await Phone.register("2002", server: server)
        _ = try server.store.update("2002") { $0.doNotDisturb = true }
        do { _ = try await ada.call("2002", server: server); Issue.record("the call went through DND") } catch UserAgentError.rejected(let code, let reason) {
            #expect(code == 486)
            #expect(reason.contains("Do Not Disturb"))
        }
        #expect(await brook.behaviour.invites.isEmpty, "a DND phone does not ring")
        #expect(try server.store.records(after: 0).last?.outcome == "busy")
        await ada.shutdown(); await brook.shutdown(); await server.shutdown()
    }

    @Test func forwardAlwaysRingsTheDestination() async throws {
        let (server, _) = try await startServer()
        let ada = try await Phone.register("2001", server: server)
        let brook = try await Phone.register("2002", server: server)
        let cy = try await Phone.register("2003", server: server)
        _ = try server.store.update("2002") { $0.forwardAlways = "2003" }
        let leg = try await ada.call("2002", server: server)
        #expect(await cy.behaviour.invites.count == 1)
        #expect(await brook.behaviour.invites.isEmpty)
        try await ada.ua.hangUp(leg.dialog.id)
        let record = try #require(try server.store.records(after: 0).last)
        #expect(record.path == ["2002", "forwardAlways", "2003"])
        #expect(record.callee == "2003")
        await ada.shutdown(); await brook.shutdown(); await cy.shutdown(); await server.shutdown()
    }

    @Test func busyForwardsWhenIAmOnThePhone() async throws {
        let (server, _) = try await startServer()
        let ada = try await Phone.register("2001", server: server)
        let brook = try await Phone.register("2002", server: server)
        let cy = try await Phone.register("2003", server: server)
        await brook.behaviour.set(.reject(status: 486, reason: nil, headers: []))
        _ = try server.store.update("2002") { $0.forwardBusy = "2003" }
        let leg = try await ada.call("2002", server: server)
        #expect(await brook.behaviour.invites.count == 1)
        #expect(await cy.behaviour.invites.count == 1)
        try await ada.ua.hangUp(leg.dialog.id)
        #expect(try server.store.records(after: 0).last?.path == ["2002", "forwardBusy", "2003"])
        await ada.shutdown(); await brook.shutdown(); await cy.shutdown(); await server.shutdown()
    }

    @Test func noAnswerForwardsAfterTheRingTimer() async throws {
        let (server, _) = try await startServer()
        let ada = try await Phone.register("2001", server: server)
        let brook = try await Phone.register("2002", server: server)
        let cy = try await Phone.register("2003", server: server)
        await brook.behaviour.set(.answer(body: officeSDP, contentType: .sdp, ringFor: .seconds(30)))
        _ = try server.store.update("2002") { $0.forwardNoAnswer = "2003"; $0.noAnswerSeconds = 0.5 }
        let leg = try await ada.call("2002", server: server)
        #expect(await cy.behaviour.invites.count == 1)
        try await ada.ua.hangUp(leg.dialog.id)
        #expect(try server.store.records(after: 0).last?.path == ["2002", "forwardNoAnswer", "2003"])
        await ada.shutdown(); await brook.shutdown(); await cy.shutdown(); await server.shutdown()
    }

    @Test func noAnswerWithoutForwardingOrMailboxGets480() async throws {
        let (server, _) = try await startServer(ringTimeout: 0.5, voicemail: false)
        let ada = try await Phone.register("2001", server: server)
        let brook = try await Phone.register("2002", server: server)
        await brook.behaviour.set(.answer(body: officeSDP, contentType: .sdp, ringFor: .seconds(30)))
        do { _ = try await ada.call("2002", server: server); Issue.record("answered") } catch UserAgentError.rejected(let code, _) {
            #expect(code == 480)
        }
        #expect(try server.store.records(after: 0).last?.outcome == "noAnswer")
        await ada.shutdown(); await brook.shutdown(); await server.shutdown()
    }

    @Test func noAnswerWithoutForwardingGoesToTheMailboxAsDoesForwardingToVoicemail() async throws {
        let (server, _) = try await startServer(ringTimeout: 0.5)
        let ada = try await Phone.register("2001", server: server)
        let brook = try await Phone.register("2002", server: server)
        await brook.behaviour.set(.answer(body: officeSDP, contentType: .sdp, ringFor: .seconds(30)))
        let leg = try await ada.call("2002", server: server)
        #expect(leg.remoteBody.isEmpty == false, "the mailbox answers with its session")
        try await ada.ua.hangUp(leg.dialog.id)
        let record = try #require(try server.store.records(after: 0).last)
        #expect(record.path.suffix(2) == ["forwardNoAnswer", "voicemail"] && record.outcome == "answered", "\(record)")
        // "Send my calls to" the mailbox.
        _ = try await server.updateFeatures(of: "2003", try CallSettings.Change(["forwardAlways": "voicemail"]))
        let toMailbox = try await ada.call("2003", server: server)
        try await ada.ua.hangUp(toMailbox.dialog.id)
        #expect(try server.store.records(after: 0).last?.path.suffix(2) == ["forwardAlways", "voicemail"])
        await #expect(throws: ControlError.self) { try await server.updateFeatures(of: "2003", try CallSettings.Change(["forwardBusy": "voicemale"])) }
        await ada.shutdown(); await brook.shutdown(); await server.shutdown()
    }

    @Test func registrationsSurviveReopeningTheStoreAndASaveReplacesTheAORsBindings() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-store-\(UUID().uuidString)")
        let desk = Binding(contact: try NameAddress("<sip:2002@127.0.0.1:5070;transport=tcp>"), expires: 2_000, callID: "reg-1", cseq: 7,
                           path: ["<sip:127.0.0.1:5065;lr>", "<sip:edge.example;lr;x=\"q\">"], instance: "<urn:uuid:00000000-0000-0000-0000-000000000001>",
                           regID: "1", source: "127.0.0.1:5070", transport: "tcp")
        var mobile = desk
        mobile.contact = try NameAddress("<sip:2002@127.0.0.1:5072>")
        mobile.path = []
        mobile.instance = nil
        mobile.regID = nil
        mobile.transport = "udp"
        do {
            let store = try FeatureStore(directory: directory)
            await store.saveBindings("2002", [desk, mobile])
            await store.saveBindings("2003", [mobile])
            await store.saveBindings("2003", [])  // unregistered
            await store.saveBindings("2002", [desk])  // mobile gone
        }
        let loaded = try FeatureStore(directory: directory).loadBindings(now: 1_000)
        #expect(loaded["2002"] == [desk], "the last save of 2002 is what is stored, path with its quotes, instance and reg-id included")
        #expect(loaded["2003"] == nil)
        let expired = try FeatureStore(directory: directory).loadBindings(now: 3_000)
        #expect(expired.isEmpty, "bindings past their expiry are not restored")
    }

    @Test func featuresAndCDRsSurviveReopeningTheStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-store-\(UUID().uuidString)")
        do {
            let store = try FeatureStore(directory: directory)
            _ = try store.update("2002") { $0.doNotDisturb = true; $0.forwardBusy = "2003"; $0.selectedDevice = "desk" }
            store.append(CallRecord(callID: "c1", caller: "2001", callerName: nil, dialed: "2002", callee: "2002", startedAt: Date(), answeredAt: nil, endedAt: Date(), outcome: "busy",
                                    path: ["2002", "forwardBusy", "say \"hi\"\\\n"]))
            await store.durable()
        }
        let reopened = try FeatureStore(directory: directory)
        let features = try reopened.features("2002")
        #expect(features.doNotDisturb && features.forwardBusy == "2003" && features.selectedDevice == "desk")
        let records = try reopened.records(after: 0)
        #expect(records.count == 1 && records[0].sequence == 1)
        #expect(records.first?.path == ["2002", "forwardBusy", "say \"hi\"\\\n"], "the path reads back as written, escapes included")
        #expect(try reopened.records(after: 1).isEmpty, "the cursor reads only what came after")
        // Sequence numbers go on from the stored ones; a read sees a record as soon as it is queued.
        let next = reopened.append(CallRecord(callID: "c2", caller: "2001", callerName: nil, dialed: "2003", callee: "2003", startedAt: Date(), answeredAt: nil, endedAt: Date(), outcome: "noAnswer", path: []))
        #expect(next.sequence == 2)
        #expect(try reopened.records(after: 1).map(\.callID) == ["c2"])
    }

    @Test func pastItsCapacityTheServerAnswersANewCall503WithRetryAfter() async throws {
        var configuration = officeConfiguration()
        configuration.security.maxCalls = 1
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-maxcalls-\(UUID().uuidString)")
        let server = try await CallServer.start(configuration: configuration, dataDirectory: directory)
        var p: [String: Phone] = [:]
        for number in ["2001", "2002", "2003", "2004"] { p[number] = try await Phone.register(number, server: server) }
        await p["2002"]!.behaviour.use(phoneSDP("2002"), ringFor: .seconds(30))
        let caller = p["2001"]!
        let first = Task { try await caller.call("2002", server: server) }
        _ = await p["2002"]!.behaviour.nextInvite()  // the one call allowed is ringing
        do {
            _ = try await p["2003"]!.call("2004", server: server)
            Issue.record("a second call went through with maxCalls 1")
        } catch UserAgentError.rejected(let status, let reason) {
            #expect(status == 503 && reason.contains("1 calls in progress"), "\(status) \(reason)")
        }
        first.cancel()
        for phone in p.values { await phone.shutdown() }
        await server.shutdown()
    }
}
