// A SIP user agent that answers calls with media services (echo, music on hold): in the call
// server's process by default, or as `holdfast media` on a host of its own. It speaks plain SIP
// and RTP, so the call server routes to it as it would to any device.

import Audio
import Foundation
import Logging
import Media
import NIOCore
import NIOPosix
import SDP
import SIP
import SIPCore
import SIPMessage

public actor MediaServiceHost: UserAgentDelegate {
    let configuration: MediaHostConfiguration
    let music: [Int16]
    let group: any EventLoopGroup
    private var ua: UserAgent?
    /// Sessions being answered (by Call-ID) and running (by dialog).
    private var pending: [String: Session] = [:]
    private var running: [DialogID: Session] = [:]
    private let logger = Logger(label: "holdfast.media")

    struct Session: Sendable {
        let service: MediaService
        let media: MediaSession
        let local: MediaEndpoint
        let sessionID = UInt64.random(in: 1...UInt64(Int64.max))
        /// Our SDP's version: one more for every answer to a re-offer (RFC 3264 §8).
        var version: UInt64 = 1
        /// Our offer, when the INVITE had none: the ACK brings the answer.
        var offer: SessionDescription?

        var direction: MediaDirection { service.sendsOnly ? .sendonly : .sendrecv }
    }

    /// Starts listening (UDP and TCP) and answering.
    public static func start(_ configuration: MediaHostConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> MediaServiceHost {
        var music = DefaultMusic.samples()
        if let path = configuration.musicOnHold {
            do { music = try WAV.read(URL(fileURLWithPath: path)) } catch {
                throw MediaHostError("musicOnHold: \(path) cannot be played: \(error)")
            }
        }
        let transport = SIPTransport(group: group)
        try await transport.listenUDPAndTCP(host: configuration.host, port: configuration.port)
        let host = MediaServiceHost(configuration: configuration, music: music, group: group)
        var stackConfiguration = SIPStack.Configuration()
        stackConfiguration.userAgent = "Holdfast media"
        let ua = UserAgent(stack: SIPStack(transport: transport, configuration: stackConfiguration),
                           identity: .init(user: "media", domain: configuration.host), delegate: host)
        await host.attach(ua)
        await ua.start()
        return host
    }

    init(configuration: MediaHostConfiguration, music: [Int16], group: any EventLoopGroup) {
        self.configuration = configuration
        self.music = music
        self.group = group
    }

    private func attach(_ ua: UserAgent) { self.ua = ua }

    /// Where the call server sends calls for `service` (UDP).
    public nonisolated var port: Int { get async { await ua?.stack.transport.localAddress(.udp)?.port ?? 0 } }

    public var sessionCount: Int { pending.count + running.count }

    public func shutdown() async {
        for session in Array(pending.values) + Array(running.values) { await session.media.stop() }
        pending = [:]
        running = [:]
        await ua?.stack.shutdown()
    }

    // MARK: - UserAgentDelegate

    public func incomingInvite(_ request: SIPRequest) async -> InviteDecision {
        guard case .sip(let uri) = request.uri, let name = uri.user, let service = MediaService(rawValue: name) else {
            return .reject(status: 404, reason: "No such service \(request.uri)", headers: [])
        }
        guard sessionCount < configuration.maxSessions else {
            return .reject(status: 503, reason: "Service Unavailable (\(configuration.maxSessions) sessions)", headers: [(.retryAfter, "5")])
        }
        let source: any AudioSource, sink: any AudioSink
        switch service {
        case .echo:
            let loop = EchoLoop()
            (source, sink) = (loop, loop)
        case .musicOnHold:
            (source, sink) = (LoopingSource(samples: music), NullSink())
        }
        do {
            var media = MediaSessionConfiguration(localAddress: configuration.host, remoteAddress: "127.0.0.1", remotePort: 9, codec: .pcmu,
                                                  telephoneEventPayloadType: nil)
            media.direction = service.sendsOnly ? .sendonly : .sendrecv
            let session = try await MediaSession.open(group: group, configuration: media, ports: configuration.rtpPorts, source: source, sink: sink)
            let local = MediaEndpoint(address: configuration.host, port: session.localPort)
            var entry = Session(service: service, media: session, local: local)
            let answer: [UInt8]
            if request.body.isEmpty {
                let ours = OfferAnswer.offer(local, sessionID: entry.sessionID, version: 1, direction: media.direction)
                entry.offer = ours
                answer = Array(ours.text.utf8)
            } else {
                do {
                    let remote = try SessionDescription(parsing: String(decoding: request.body, as: UTF8.self))
                    let (text, agreed) = try OfferAnswer.answer(remote, local: local, sessionID: entry.sessionID, version: 1, direction: media.direction)
                    try await session.update(agreed)
                    answer = Array(text.text.utf8)
                } catch {
                    await session.stop()
                    return .reject(status: 488, reason: "Not Acceptable Here", headers: [(.warning, "305 \(configuration.host) \"\(error)\"")])
                }
            }
            pending[request.callID ?? ""] = entry
            logger.info("service answers", metadata: ["service": "\(service.rawValue)", "call-id": "\(request.callID ?? "")"])
            return .answer(body: answer, contentType: .sdp, ringFor: .zero)
        } catch {
            return .reject(status: 503, reason: "Media could not start: \(error)", headers: [])
        }
    }

    public func callEstablished(_ dialog: Dialog, request: SIPRequest) async {
        guard let session = pending.removeValue(forKey: dialog.id.callID) else { return }
        running[dialog.id] = session
        if session.offer == nil { await session.media.start() }
    }

    public func acknowledged(_ dialog: DialogID, request: SIPRequest) async {
        guard let session = running[dialog], let offer = session.offer else { return }
        running[dialog]?.offer = nil
        if let answer = try? SessionDescription(parsing: String(decoding: request.body, as: UTF8.self)),
           let agreed = try? OfferAnswer.accept(answer: answer, to: offer) {
            try? await session.media.update(agreed)
        }
        await session.media.start()
    }

    public func inviteCancelled(_ invite: SIPRequest) async {
        guard let session = pending.removeValue(forKey: invite.callID ?? "") else { return }
        await session.media.stop()
    }

    public func callEnded(_ dialog: DialogID, byRemote: Bool) async {
        guard let session = running.removeValue(forKey: dialog) else { return }
        await session.media.stop()
    }

    /// A re-offer in the call (the call server moves the far end), INFO (digits), anything else.
    public func otherRequest(_ request: SIPRequest) async -> SIPResponse? {
        guard let id = DialogID.forIncoming(request), var session = running[id] else { return nil }
        switch request.method {
        case .invite, .update:
            session.version += 1
            running[id] = session
            guard !request.body.isEmpty else {
                // No offer: ours, the session as it is; the ACK brings the answer.
                let ours = OfferAnswer.offer(session.local, sessionID: session.sessionID, version: session.version, direction: session.direction)
                running[id]?.offer = ours
                var ok = SIPResponse(replyingTo: request, statusCode: 200)
                ok.setBody(Array(ours.text.utf8), contentType: .sdp)
                return ok
            }
            do {
                let remote = try SessionDescription(parsing: String(decoding: request.body, as: UTF8.self))
                let (text, agreed) = try OfferAnswer.answer(remote, local: session.local, sessionID: session.sessionID, version: session.version,
                                                            direction: session.direction)
                try await session.media.update(agreed)
                var ok = SIPResponse(replyingTo: request, statusCode: 200)
                ok.setBody(Array(text.text.utf8), contentType: .sdp)
                return ok
            } catch {
                var refused = SIPResponse(replyingTo: request, statusCode: 488)
                refused.headers.add(.warning, "305 \(configuration.host) \"\(error)\"")
                return refused
            }
        default:
            return SIPResponse(replyingTo: request, statusCode: 200)
        }
    }
}

public struct MediaHostError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
