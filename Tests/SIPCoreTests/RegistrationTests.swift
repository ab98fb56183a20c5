// The registration client state machine (RFC 3261 §10.2).

import SIPMessage
import Testing
@testable import SIPCore

struct FakeAuthenticator: RegistrationAuthenticator {
    func authorization(challenge: String, method: SIPMethod, uri: String) -> String? {
        "Digest answered=\"\(RegistrationClient.nonce(of: challenge) ?? "?")\""
    }
}

@Suite struct RegistrationTests {
    func client() -> RegistrationClient {
        let configuration = RegistrationClient.Configuration(
            registrar: try! SIPURI("sip:127.0.0.1"), addressOfRecord: try! SIPURI("sip:2001@127.0.0.1"),
            contact: NameAddress(uri: try! SIPURI("sip:2001@127.0.0.1:5070")), callID: "reg-1", fromTag: "ft")
        return RegistrationClient(configuration: configuration, authenticator: FakeAuthenticator())
    }

    func sent(_ actions: [RegistrationClient.Action]) -> SIPRequest? {
        for action in actions { if case .send(let r) = action { return r } }
        return nil
    }

    func response(to request: SIPRequest, _ status: Int, _ extra: [(HeaderName, String)] = []) -> SIPResponse {
        var r = SIPResponse(replyingTo: request, statusCode: status, toTag: "rt")
        for (name, value) in extra { r.headers.add(name, value) }
        return r
    }

    @Test func registersAndSchedulesRefreshBeforeExpiry() throws {
        var reg = client()
        let register = try #require(sent(reg.start()))
        #expect(register.method == .register)
        #expect(register.headers[.expires] == "3600")
        #expect(register.to?.uri.description == "sip:2001@127.0.0.1")
        let ok = response(to: register, 200, [(.contact, "<sip:2001@127.0.0.1:5070>;expires=600")])
        #expect(reg.receive(ok) == [.registered(expires: 600), .scheduleRefresh(after: .seconds(300))])
        let refresh = try #require(sent(reg.timerFired()))
        #expect(refresh.callID == register.callID, "Call-ID stays across refreshes")
        #expect(refresh.cseq!.sequence == register.cseq!.sequence + 1)
        let short = response(to: refresh, 200, [(.expires, "40")])
        #expect(reg.receive(short) == [.registered(expires: 40), .scheduleRefresh(after: .seconds(10))])
    }

    @Test func answersAChallengeOnceAndFailsOnARepeatedNonce() throws {
        var reg = client()
        let first = try #require(sent(reg.start()))
        let challenge = response(to: first, 401, [(.wwwAuthenticate, #"Digest realm="r", nonce="n1", qop="auth""#)])
        let second = try #require(sent(reg.receive(challenge)))
        #expect(second.headers[.authorization] == #"Digest answered="n1""#)
        let again = response(to: second, 401, [(.wwwAuthenticate, #"Digest realm="r", nonce="n1", qop="auth""#)])
        let actions = reg.receive(again)
        guard case .failed(let reason) = actions.first else { Issue.record("expected failure"); return }
        #expect(reason.contains("rejected the credentials"))
        #expect(actions.last == .scheduleRetry(after: .seconds(1)))
    }

    @Test func staleNonceIsAnsweredAgain() throws {
        var reg = client()
        let first = try #require(sent(reg.start()))
        let second = try #require(sent(reg.receive(response(to: first, 407, [(.proxyAuthenticate, #"Digest realm="r", nonce="n1""#)]))))
        #expect(second.headers[.proxyAuthorization] != nil)
        let third = sent(reg.receive(response(to: second, 407, [(.proxyAuthenticate, #"Digest realm="r", nonce="n2", stale=true"#)])))
        #expect(third?.headers[.proxyAuthorization] == #"Digest answered="n2""#)
    }

    @Test func intervalTooBriefRetriesWithMinExpires() throws {
        var reg = client()
        let first = try #require(sent(reg.start()))
        let retry = try #require(sent(reg.receive(response(to: first, 423, [(.minExpires, "7200")]))))
        #expect(retry.headers[.expires] == "7200")
    }

    @Test func failuresBackOffExponentially() {
        var reg = client()
        _ = reg.start()
        var delays: [Duration] = []
        for _ in 0..<8 {
            for action in reg.transactionFailed("timeout") { if case .scheduleRetry(let d) = action { delays.append(d) } }
        }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60].map { .seconds($0) })
    }

    @Test func stopSendsExpiresZero() throws {
        var reg = client()
        let first = try #require(sent(reg.start()))
        _ = reg.receive(response(to: first, 200, [(.expires, "3600")]))
        let unregister = try #require(sent(reg.stop()))
        #expect(unregister.headers[.expires] == "0")
        #expect(unregister.contacts.first?.parameters["expires"] == "0")
        #expect(reg.receive(response(to: unregister, 200)) == [.unregistered])
    }

    @Test func responsesToOldRequestsAreIgnored() throws {
        var reg = client()
        let first = try #require(sent(reg.start()))
        let second = try #require(sent(reg.receive(response(to: first, 401, [(.wwwAuthenticate, #"Digest realm="r", nonce="n1""#)]))))
        _ = second
        #expect(reg.receive(response(to: first, 200)) == [], "a late answer to CSeq 1 is not ours any more")
    }
}
