// `holdfast sip answer`: answers incoming calls, plays a WAV in a loop, records what it hears,
// and exits after the N-th call ends.

import Audio
import CallMedia
import Foundation
import Media
import NIOCore
import NIOPosix
import SDP
import SIP
import SIPCore
import SIPMessage

public struct AnswerTool: Sendable {
    public var host: String
    public var port: Int
    public var audio: AudioEnds
    public var calls: Int
    public var ringFor: Duration = .milliseconds(100)
    public var rtpPorts: ClosedRange<Int> = 40000...49999
    public var trace: (@Sendable (SIPTraceEvent) -> Void)?

    public init(host: String, port: Int, audio: AudioEnds, calls: Int) {
        self.host = host
        self.port = port
        self.audio = audio
        self.calls = calls
    }

    /// Listens, answers `calls` calls, and returns one summary per call as each ends (`report`).
    public func run(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                    listening: @escaping @Sendable (Int) -> Void = { _ in },
                    report: @escaping @Sendable (CallSummary) -> Void) async throws {
        _ = try audio.makeSource()  // a bad WAV is an error before any call
        var configuration = SIPTransport.Configuration()
        configuration.trace = trace
        let transport = SIPTransport(group: group, configuration: configuration)
        let bound = try await transport.listen(.udp, host: host, port: port)
        try await transport.listen(.tcp, host: host, port: bound.port ?? port)
        listening(bound.port ?? port)
        let (ended, endedContinuation) = AsyncStream.makeStream(of: CallSummary.self)
        let delegate = AnswerDelegate(tool: self, group: group, ended: endedContinuation)
        let ua = UserAgent(stack: SIPStack(transport: transport), identity: .init(user: "answer", domain: host), delegate: delegate)
        await ua.start()
        var done = 0
        for await summary in ended {
            report(summary)
            done += 1
            if done >= calls { break }
        }
        await ua.stack.shutdown()
    }
}

actor AnswerDelegate: UserAgentDelegate {
    let tool: AnswerTool
    let group: any EventLoopGroup
    let ended: AsyncStream<CallSummary>.Continuation
    /// Calls being set up (by Call-ID) and running (by dialog).
    var pending: [String: MediaCall] = [:]
    var calls: [DialogID: MediaCall] = [:]

    init(tool: AnswerTool, group: any EventLoopGroup, ended: AsyncStream<CallSummary>.Continuation) {
        self.tool = tool
        self.group = group
        self.ended = ended
    }

    func incomingInvite(_ request: SIPRequest) async -> InviteDecision {
        let offer: SessionDescription
        do { offer = try SDPBody.parse(request.body) } catch { return SDPBody.notAcceptable(error, host: tool.host) }
        do {
            let source = try tool.audio.makeSource()
            var configuration = MediaSessionConfiguration(localAddress: tool.host, remoteAddress: "127.0.0.1", remotePort: 9, codec: .pcmu, telephoneEventPayloadType: nil)
            configuration.direction = .sendrecv
            let session = try await MediaSession.open(group: group, configuration: configuration, ports: tool.rtpPorts, source: source, sink: tool.audio.makeSink())
            let local = MediaEndpoint(address: tool.host, port: session.localPort)
            let call = MediaCall(session: session, remote: request.from?.summaryText ?? "?", local: local)
            let body: [UInt8]
            do {
                body = try await call.answer(reoffer: offer)
            } catch {
                await session.stop()
                return SDPBody.notAcceptable(error, host: tool.host)
            }
            pending[request.callID ?? ""] = call
            return .answer(body: body, contentType: .sdp, ringFor: tool.ringFor)
        } catch {
            return .reject(status: 500, reason: "Media setup failed: \(error)", headers: [])
        }
    }

    func callEstablished(_ dialog: Dialog, request: SIPRequest) async {
        guard let call = pending.removeValue(forKey: dialog.id.callID) else { return }
        calls[dialog.id] = call
        await call.session.start()
    }

    func callEnded(_ dialog: DialogID, byRemote: Bool) async {
        guard let call = calls.removeValue(forKey: dialog) else { return }
        await call.session.stop()
        ended.yield(await call.summary())
    }

    func otherRequest(_ request: SIPRequest) async -> SIPResponse? {
        guard let id = DialogID.forIncoming(request), let call = calls[id] else { return nil }
        return await call.handleInDialog(request)
    }

    func acknowledged(_ dialog: DialogID, request: SIPRequest) async {
        await calls[dialog]?.acknowledged(request)
    }
}
