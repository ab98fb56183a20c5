// The SIP stack against a real peer: SIPp (Debian sip-tester) as client and as server.

import TestSupport
import Foundation
import NIOCore
import NIOPosix
import SIPAuth
import SIPCore
import SIPMessage
import Testing
@testable import SIP

let canonicalSDP = Array("v=0\r\no=holdfast 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n".utf8)

/// A UAS for the tests: answers calls with SDP and acts as a digest-authenticating registrar for
/// user 2001 (password pw2001), like a small PBX would.
actor TestUASDelegate: UserAgentDelegate {
    var digest = DigestServer(secret: Array(repeating: 1, count: 32), algorithms: [.md5])
    var bindings: [String: String] = [:]
    var established = 0
    var ended = 0
    /// Each call ended, as it happens (the UA answers the BYE first, then tells its delegate).
    nonisolated let endings: AsyncStream<DialogID>
    private nonisolated let endingsContinuation: AsyncStream<DialogID>.Continuation

    init() {
        (endings, endingsContinuation) = AsyncStream.makeStream(of: DialogID.self)
    }

    func incomingInvite(_ request: SIPRequest) async -> InviteDecision {
        .answer(body: canonicalSDP, contentType: .sdp, ringFor: .milliseconds(20))
    }

    func callEstablished(_ dialog: Dialog, request: SIPRequest) async { established += 1 }
    func callEnded(_ dialog: DialogID, byRemote: Bool) async {
        ended += 1
        endingsContinuation.yield(dialog)
    }

    func otherRequest(_ request: SIPRequest) async -> SIPResponse? {
        guard request.method == .register else { return nil }
        let now = Date().timeIntervalSince1970
        guard let value = request.headers[.authorization], let credentials = try? DigestCredentials(parsing: value),
              digest.verify(credentials, method: "REGISTER", realm: "127.0.0.1", password: "pw2001", now: now) == .valid,
              credentials.username == "2001"
        else {
            var challenge = SIPResponse(replyingTo: request, statusCode: 401, toTag: "reg")
            for c in digest.challenges(realm: "127.0.0.1", now: now, random: (0..<12).map { _ in UInt8.random(in: 0...255) }) {
                challenge.headers.add(.wwwAuthenticate, c.headerValue)
            }
            return challenge
        }
        var ok = SIPResponse(replyingTo: request, statusCode: 200, toTag: "reg")
        let expires = request.expires ?? 3600
        if let contact = request.contacts.first {
            if expires == 0 { bindings[contact.uri.description] = nil } else { bindings[contact.uri.description] = "\(expires)" }
            if expires > 0 { ok.headers.add(.contact, "<\(contact.uri)>;expires=\(expires)") }
        }
        return ok
    }
}

@Suite(.serialized, .realPeers) struct SIPpInteropTests {
    let group = MultiThreadedEventLoopGroup.singleton

    func startUAS() async throws -> (UserAgent, TestUASDelegate, udp: Int, tcp: Int) {
        let transport = SIPTransport(group: group)
        let udp = try await transport.listen(.udp, host: "127.0.0.1", port: 0).port!
        let tcp = try await transport.listen(.tcp, host: "127.0.0.1", port: 0).port!
        let delegate = TestUASDelegate()
        let ua = UserAgent(stack: SIPStack(transport: transport), identity: .init(user: "uas", domain: "127.0.0.1"), delegate: delegate)
        await ua.start()
        return (ua, delegate, udp, tcp)
    }

    @Test func sippOptionsIsAnsweredWithAllow() async throws {
        let (ua, _, udp, _) = try await startUAS()
        let sipp = try SIPp.start("uac_options.xml", remote: "127.0.0.1:\(udp)", localPort: ExternalProcess.freePort())
        try await SIPp.expectSuccess(sipp)
        await ua.stack.shutdown()
    }

    @Test(arguments: ["u1", "t1"])
    func sippInviteAckByeCompletesOverUDPAndTCP(transport: String) async throws {
        let (ua, delegate, udp, tcp) = try await startUAS()
        let port = transport == "u1" ? udp : tcp
        let sipp = try SIPp.start("uac_invite.xml", remote: "127.0.0.1:\(port)", localPort: ExternalProcess.freePort(), transport: transport)
        try await SIPp.expectSuccess(sipp)
        #expect(await delegate.established == 1)
        _ = try await delegate.endings.first(within: 5, "SIPp's BYE ending the call at the UA") { _ in true }
        #expect(await delegate.ended == 1, "SIPp's BYE ended the call, once")
        #expect(await ua.activeDialogs.isEmpty)
        await ua.stack.shutdown()
    }

    @Test func sippRegistersThroughADigestChallenge() async throws {
        let (ua, delegate, udp, _) = try await startUAS()
        let sipp = try SIPp.start(
            "uac_register_auth.xml", remote: "127.0.0.1:\(udp)", localPort: ExternalProcess.freePort(),
            service: "2001", extra: ["-au", "2001", "-ap", "pw2001"])
        try await SIPp.expectSuccess(sipp)
        #expect(await delegate.bindings.isEmpty, "the un-REGISTER removed the binding")
        await ua.stack.shutdown()
    }

    @Test func wrongPasswordIsNeverAccepted() async throws {
        let (ua, _, udp, _) = try await startUAS()
        let sipp = try SIPp.start(
            "uac_register_auth.xml", remote: "127.0.0.1:\(udp)", localPort: ExternalProcess.freePort(),
            service: "2001", extra: ["-au", "2001", "-ap", "wrong"])
        let status = try await sipp.waitForExit(within: 40)
        #expect(status != 0, "SIPp must fail: the registrar keeps challenging a bad password")
        await ua.stack.shutdown()
    }

    @Test func libraryUACCallsASippUAS() async throws {
        let port = ExternalProcess.freePort()
        let sipp = try SIPp.start("uas_basic.xml", remote: nil, localPort: port)
        let transport = SIPTransport(group: group)
        try await transport.listen(.udp, host: "127.0.0.1", port: 0)
        let ua = UserAgent(stack: SIPStack(transport: transport), identity: .init(user: "2001", domain: "127.0.0.1"), delegate: TestUASDelegate())
        await ua.start()
        let leg = try await ua.call(try SIPURI("sip:service@127.0.0.1:\(port)"), via: SIPTarget(kind: .udp, host: "127.0.0.1", port: port), body: canonicalSDP)
        #expect(leg.finalResponse?.statusCode == 200)
        #expect(String(decoding: leg.remoteBody, as: UTF8.self).contains("m=audio"))
        try await ua.hangUp(leg.dialog.id)
        try await SIPp.expectSuccess(sipp)
        await ua.stack.shutdown()
    }
}
