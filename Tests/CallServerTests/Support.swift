// Phones for call-server tests: user agents that register with digest and answer as told.

import Foundation
import NIOPosix
import TestSupport
import SIP
import SIPCore
import SIPMessage
@testable import CallServer

let officeSDP = Array("v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n".utf8)

func officeConfiguration(ringTimeout: Double = 20) -> PBXConfiguration {
    var configuration = PBXConfiguration()
    configuration.listen.port = 0
    configuration.ringTimeout = ringTimeout
    configuration.users = [
        .init(extensionNumber: "2001", name: "Ada Lovelace", password: "pw2001", voicemailPIN: "12001"),
        .init(extensionNumber: "2002", name: "Brook Taylor", password: "pw2002", voicemailPIN: "12002"),
        .init(extensionNumber: "2003", name: "Cy Young", password: "pw2003", voicemailPIN: "12003"),
        .init(extensionNumber: "2004", name: "Dee Okafor", password: "pw2004", voicemailPIN: "12004"),
    ]
    return configuration
}

/// `voicemail: false` gives the users no mailboxes (calls nobody answers get 480).
func startServer(ringTimeout: Double = 20, directory: URL? = nil, voicemail: Bool = true,
                 recall: PBXConfiguration.Recall = .init()) async throws -> (CallServer, URL) {
    let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-pbx-\(UUID().uuidString)")
    var configuration = officeConfiguration(ringTimeout: ringTimeout)
    configuration.voicemail.enabled = voicemail
    configuration.recall = recall
    let server = try await CallServer.start(configuration: configuration, dataDirectory: directory)
    return (server, directory)
}

/// A session description for phone `number` (its own media port), optionally with a direction.
func phoneSDP(_ number: String, direction: String? = nil) -> [UInt8] {
    let port = 40000 + 2 * (Int(number.suffix(2)) ?? 0)
    return Array("v=0\r\no=p\(number) 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(port) RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\(direction.map { "a=\($0)\r\n" } ?? "")".utf8)
}

/// What a test phone saw, in order.
enum PhoneEvent: Sendable {
    case invite(SIPRequest)
    case inDialog(SIPRequest)
    case ack(SIPRequest)
    case ended
}

actor PhoneBehaviour: UserAgentDelegate {
    var decision: InviteDecision = .answer(body: officeSDP, contentType: .sdp, ringFor: .milliseconds(10))
    /// The session this phone answers re-INVITEs with (the direction mirrors the offer's).
    var session = officeSDP
    private(set) var invites: [SIPRequest] = []
    private(set) var ended = 0
    private var inviteWaiters: [CheckedContinuation<SIPRequest, Never>] = []
    nonisolated let events: AsyncStream<PhoneEvent>
    private nonisolated let sink: AsyncStream<PhoneEvent>.Continuation

    init() { (events, sink) = AsyncStream<PhoneEvent>.makeStream() }

    func set(_ decision: InviteDecision) { self.decision = decision }

    /// Answers calls and re-INVITEs with `sdp`.
    func use(_ sdp: [UInt8], ringFor: Duration = .milliseconds(10)) {
        session = sdp
        decision = .answer(body: sdp, contentType: .sdp, ringFor: ringFor)
    }

    func incomingInvite(_ request: SIPRequest) async -> InviteDecision {
        invites.append(request)
        for waiter in inviteWaiters { waiter.resume(returning: request) }
        inviteWaiters = []
        sink.yield(.invite(request))
        return decision
    }

    func otherRequest(_ request: SIPRequest) async -> SIPResponse? {
        sink.yield(.inDialog(request))
        guard request.method == .invite else { return nil }
        let offered = String(decoding: request.body, as: UTF8.self)
        let mirrored = ["a=sendonly": "recvonly", "a=recvonly": "sendonly", "a=inactive": "inactive"].first { offered.contains($0.key) }?.value
        var ok = SIPResponse(replyingTo: request, statusCode: 200)
        var body = String(decoding: session, as: UTF8.self)
        for direction in ["a=sendrecv\r\n", "a=sendonly\r\n", "a=recvonly\r\n", "a=inactive\r\n"] { body = body.replacingOccurrences(of: direction, with: "") }
        if let mirrored { body += "a=\(mirrored)\r\n" }
        ok.setBody(Array(body.utf8), contentType: .sdp)
        return ok
    }

    func acknowledged(_ dialog: DialogID, request: SIPRequest) async { sink.yield(.ack(request)) }

    private(set) var answeredDialogs: [DialogID] = []
    func callEstablished(_ dialog: Dialog, request: SIPRequest) async { answeredDialogs.append(dialog.id) }

    func callEnded(_ dialog: DialogID, byRemote: Bool) async {
        ended += 1
        sink.yield(.ended)
    }

    /// The next INVITE this phone receives (or the first one, if it already came).
    func nextInvite() async -> SIPRequest {
        if let first = invites.first { return first }
        return await withCheckedContinuation { inviteWaiters.append($0) }
    }
}

struct Phone {
    let ua: UserAgent
    let behaviour: PhoneBehaviour
    let registration: Registration
    let number: String

    static func register(_ number: String, server: CallServer, password: String? = nil) async throws -> Phone {
        let transport = SIPTransport(group: MultiThreadedEventLoopGroup.singleton)
        let local = try await transport.listen(.udp, host: "127.0.0.1", port: 0)
        let behaviour = PhoneBehaviour()
        let credentials = DigestAuthenticator(username: number, password: password ?? "pw\(number)")
        let ua = UserAgent(stack: SIPStack(transport: transport), identity: .init(user: number, domain: "127.0.0.1", credentials: credentials), delegate: behaviour)
        await ua.start()
        let configuration = RegistrationClient.Configuration(
            registrar: SIPURI(host: "127.0.0.1", port: server.sipPort), addressOfRecord: SIPURI(user: number, host: "127.0.0.1"),
            contact: NameAddress(uri: SIPURI(user: number, host: "127.0.0.1", port: local.port)), callID: "reg-\(number)-\(UUID())", fromTag: "t\(number)")
        let registration = Registration(stack: ua.stack, target: SIPTarget(kind: .udp, host: "127.0.0.1", port: server.sipPort),
                                        configuration: configuration, authenticator: credentials)
        let updates = registration.updates
        await registration.start()
        let status = try await firstEvent(within: 10, "registration of \(number)", updates) { status in
            if case .registered = status { return true }
            if case .failed = status { return true }
            return false
        }
        guard case .registered = status else { throw TestFailure("registration of \(number) failed: \(status)") }
        return Phone(ua: ua, behaviour: behaviour, registration: registration, number: number)
    }

    func call(_ number: String, server: CallServer, domain: String = "127.0.0.1") async throws -> CallLeg {
        try await ua.call(SIPURI(user: number, host: domain), via: SIPTarget(kind: .udp, host: "127.0.0.1", port: server.sipPort), body: await behaviour.session)
    }

    func shutdown() async { await ua.stack.shutdown() }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func firstEvent<T: Sendable>(within seconds: Double, _ what: String, _ stream: AsyncStream<T>, where predicate: @escaping @Sendable (T) -> Bool) async throws -> T {
    try await stream.first(within: seconds, what, where: predicate)
}

extension Phone {
    /// The next thing this phone sees that matches (bounded wait).
    @discardableResult
    func next(_ what: String, within seconds: Double = 5, where predicate: @escaping @Sendable (PhoneEvent) -> Bool) async throws -> PhoneEvent {
        try await firstEvent(within: seconds, "\(number): \(what)", behaviour.events, where: predicate)
    }

    func nextInvite(within seconds: Double = 5) async throws -> SIPRequest {
        guard case .invite(let request) = try await next("an INVITE", within: seconds, where: { if case .invite = $0 { true } else { false } }) else { throw TestFailure("unreachable") }
        return request
    }

    func nextInDialog(_ method: SIPMethod, within seconds: Double = 5) async throws -> SIPRequest {
        guard case .inDialog(let request) = try await next("an in-dialog \(method)", within: seconds, where: {
            if case .inDialog(let r) = $0 { r.method == method } else { false }
        }) else { throw TestFailure("unreachable") }
        return request
    }

    func nextACK(within seconds: Double = 5) async throws -> SIPRequest {
        guard case .ack(let request) = try await next("an ACK", within: seconds, where: { if case .ack = $0 { true } else { false } }) else { throw TestFailure("unreachable") }
        return request
    }

    func ended(within seconds: Double = 5) async throws {
        try await next("the call to end", within: seconds) { if case .ended = $0 { true } else { false } }
    }
}

func sdpText(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
