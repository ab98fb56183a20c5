// A SIP user agent that answers calls with media services (echo, music on hold): in the call
// server's process by default, or as `holdfast media` on a host of its own. It speaks plain SIP
// and RTP, so the call server routes to it as it would to any device.

import Audio
import CallMedia
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
    /// Calls being answered (by Call-ID) and running (by dialog): offer/answer, re-INVITEs and
    /// digits are the same glue every Holdfast call uses (CallMedia).
    private var pending: [String: MediaCall] = [:]
    private var running: [DialogID: MediaCall] = [:]
    private let logger = Logger(label: "holdfast.media")

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

    /// Where the call server sends calls for a service (UDP and TCP).
    public nonisolated var port: Int { get async { await ua?.stack.transport.localAddress(.udp)?.port ?? 0 } }

    public var sessionCount: Int { pending.count + running.count }

    public func shutdown() async {
        for call in Array(pending.values) + Array(running.values) { await call.session.stop() }
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
        let direction: MediaDirection = service.sendsOnly ? .sendonly : .sendrecv
        let session: MediaSession
        do {
            var media = MediaSessionConfiguration(localAddress: configuration.host, remoteAddress: "127.0.0.1", remotePort: 9, codec: .pcmu,
                                                  telephoneEventPayloadType: nil)
            media.direction = direction
            session = try await MediaSession.open(group: group, configuration: media, ports: configuration.rtpPorts, source: source, sink: sink)
        } catch {
            return .reject(status: 503, reason: "Media could not start: \(error)", headers: [])
        }
        let call = MediaCall(session: session, remote: request.from?.uri.description ?? "?",
                             local: MediaEndpoint(address: configuration.host, port: session.localPort), direction: direction)
        let body: [UInt8]
        if request.body.isEmpty {
            body = await call.offerInAnswer()
        } else {
            do { body = try await call.answer(reoffer: try SDPBody.parse(request.body)) } catch {
                await session.stop()
                return SDPBody.notAcceptable(error, host: configuration.host)
            }
        }
        pending[request.callID ?? ""] = call
        logger.info("service answers", metadata: ["service": "\(service.rawValue)", "call-id": "\(request.callID ?? "")"])
        return .answer(body: body, contentType: .sdp, ringFor: .zero)
    }

    public func callEstablished(_ dialog: Dialog, request: SIPRequest) async {
        guard let call = pending.removeValue(forKey: dialog.id.callID) else { return }
        running[dialog.id] = call
        await call.session.start()
    }

    public func acknowledged(_ dialog: DialogID, request: SIPRequest) async {
        await running[dialog]?.acknowledged(request)
    }

    public func inviteCancelled(_ invite: SIPRequest) async {
        await pending.removeValue(forKey: invite.callID ?? "")?.session.stop()
    }

    public func callEnded(_ dialog: DialogID, byRemote: Bool) async {
        await running.removeValue(forKey: dialog)?.session.stop()
    }

    /// A re-offer in the call (the call server moves the far end), INFO (digits), anything else.
    public func otherRequest(_ request: SIPRequest) async -> SIPResponse? {
        guard let id = DialogID.forIncoming(request), let call = running[id] else { return nil }
        return await call.handleInDialog(request)
    }
}

public struct MediaHostError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
