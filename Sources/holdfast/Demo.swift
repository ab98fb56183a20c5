// `holdfast demo`: what runs today, on loopback: two user agents register, call, and hang up,
// over UDP and TCP, with the SIP ladder printed. It grows into the whole system (call server,
// collaboration server, phones) as those parts arrive.

import ArgumentParser
import Foundation
import NIOPosix
import SIP
import SIPAuth
import SIPCore
import SIPMessage

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the system on its embedded default on 127.0.0.1 and show it working.")

    @Flag(help: "Print only the summary, not the SIP ladder.")
    var quiet = false

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let quiet = self.quiet
        var transportConfiguration = SIPTransport.Configuration()
        transportConfiguration.trace = { event in if !quiet { print("  " + event.summary) } }

        let serverTransport = SIPTransport(group: group, configuration: transportConfiguration)
        let udp = try await serverTransport.listen(.udp, host: "127.0.0.1", port: 0).port!
        let tcp = try await serverTransport.listen(.tcp, host: "127.0.0.1", port: 0).port!
        let server = UserAgent(stack: SIPStack(transport: serverTransport),
                               identity: .init(user: "2002", displayName: "Brook Taylor", domain: "127.0.0.1"),
                               delegate: DemoServer())
        await server.start()
        print("Holdfast demo: a SIP server for user 2002 listens on 127.0.0.1 UDP \(udp) and TCP \(tcp)")

        let clientTransport = SIPTransport(group: group, configuration: transportConfiguration)
        let local = try await clientTransport.listen(.udp, host: "127.0.0.1", port: 0)
        try await clientTransport.listen(.tcp, host: "127.0.0.1", port: 0)
        let credentials = DigestAuthenticator(username: "2001", password: "pw2001")
        let client = UserAgent(stack: SIPStack(transport: clientTransport),
                               identity: .init(user: "2001", displayName: "Ada Lovelace", domain: "127.0.0.1", credentials: credentials),
                               delegate: DemoServer())
        await client.start()

        print("\n1. 2001 registers (digest challenge, SHA-256)")
        let registration = Registration(
            stack: client.stack, target: SIPTarget(kind: .udp, host: "127.0.0.1", port: udp),
            configuration: .init(registrar: try SIPURI("sip:127.0.0.1:\(udp)"), addressOfRecord: try SIPURI("sip:2001@127.0.0.1"),
                                 contact: NameAddress(uri: SIPURI(user: "2001", host: "127.0.0.1", port: local.port)),
                                 callID: "demo-registration", fromTag: "demo"),
            authenticator: credentials)
        let updates = registration.updates
        await registration.start()
        for await status in updates {
            if case .registered(let expires) = status { print("   registered for \(expires) s"); break }
            if case .failed(let reason) = status { print("   registration failed: \(reason)"); throw ExitCode.failure }
        }

        for kind in [SIPTransportKind.udp, .tcp] {
            print("\n2. 2001 calls 2002 over \(kind.rawValue), then hangs up")
            let port = kind == .udp ? udp : tcp
            let uri = SIPURI(user: "2002", host: "127.0.0.1", port: port, parameters: kind == .tcp ? Parameters([("transport", "tcp")]) : Parameters())
            let offer = Array("v=0\r\no=ada 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n".utf8)
            let leg = try await client.call(uri, via: SIPTarget(kind: kind, host: "127.0.0.1", port: port), body: offer)
            print("   connected: \(leg.dialog.id)")
            try await client.hangUp(leg.dialog.id)
            print("   ended")
        }
        print("\n3. 2001 unregisters")
        await registration.stop()
        for await status in updates where status == .unregistered { print("   unregistered"); break }
        print("\nDone: register, two calls and hang-ups completed. The media engine, call server, collaboration server and phone join this demo as they are built.")
        await client.stack.shutdown()
        await server.stack.shutdown()
    }
}

/// The demo's answering side: a registrar for 2001 (password pw2001) that answers every call.
actor DemoServer: UserAgentDelegate {
    var digest = DigestServer(secret: (0..<32).map { _ in UInt8.random(in: 0...255) })

    func incomingInvite(_ request: SIPRequest) async -> InviteDecision {
        let answer = Array("v=0\r\no=brook 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n".utf8)
        return .answer(body: answer, contentType: .sdp, ringFor: .milliseconds(300))
    }

    func otherRequest(_ request: SIPRequest) async -> SIPResponse? {
        guard request.method == .register else { return nil }
        let now = Date().timeIntervalSince1970
        if let value = request.headers[.authorization], let credentials = try? DigestCredentials(parsing: value),
           credentials.username == "2001",
           digest.verify(credentials, method: "REGISTER", realm: "127.0.0.1", password: "pw2001", now: now) == .valid {
            var ok = SIPResponse(replyingTo: request, statusCode: 200, toTag: "demo")
            let expires = request.expires ?? 3600
            if let contact = request.contacts.first, expires > 0 { ok.headers.add(.contact, "<\(contact.uri)>;expires=\(expires)") }
            return ok
        }
        var challenge = SIPResponse(replyingTo: request, statusCode: 401, toTag: "demo")
        for c in digest.challenges(realm: "127.0.0.1", now: now, random: (0..<12).map { _ in UInt8.random(in: 0...255) }) {
            challenge.headers.add(.wwwAuthenticate, c.headerValue)
        }
        return challenge
    }
}
