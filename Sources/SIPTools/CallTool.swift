// `holdfast sip call`: places one call, sends DTMF after answer, hangs up after a while.

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

public struct CallTool: Sendable {
    public var uri: SIPURI
    public var host: String
    public var port: Int
    public var audio: AudioEnds
    public var dtmf: String?
    public var hangupAfter: Duration
    public var username: String?
    public var password: String?
    public var rtpPorts: ClosedRange<Int> = 40000...49999
    public var trace: (@Sendable (SIPTraceEvent) -> Void)?

    public init(uri: SIPURI, host: String, port: Int, audio: AudioEnds, dtmf: String?, hangupAfter: Duration, username: String?, password: String?) {
        self.uri = uri
        self.host = host
        self.port = port
        self.audio = audio
        self.dtmf = dtmf
        self.hangupAfter = hangupAfter
        self.username = username
        self.password = password
    }

    public func run(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> CallSummary {
        let source = try audio.makeSource()
        var configuration = SIPTransport.Configuration()
        configuration.trace = trace
        let transport = SIPTransport(group: group, configuration: configuration)
        let target = SIPTarget(uri: uri)
        let bound = try await transport.listen(.udp, host: host, port: port)
        if target.kind == .tcp { try await transport.listen(.tcp, host: host, port: bound.port ?? 0) }
        let credentials = username.map { DigestAuthenticator(username: $0, password: password ?? "") }
        let delegate = CallDelegate()
        let ua = UserAgent(stack: SIPStack(transport: transport),
                           identity: .init(user: username ?? "holdfast", domain: uri.host, credentials: credentials), delegate: delegate)
        await ua.start()
        defer { Task { await ua.stack.shutdown() } }

        let media = MediaSessionConfiguration(localAddress: host, remoteAddress: "127.0.0.1", remotePort: 9, codec: .pcmu, telephoneEventPayloadType: 101)
        let session = try await MediaSession.open(group: group, configuration: media, ports: rtpPorts, source: source, sink: audio.makeSink())
        let local = MediaEndpoint(address: host, port: session.localPort)
        let call = MediaCall(session: session, remote: uri.description, local: local)
        let offer = OfferAnswer.offer(local, sessionID: call.sessionID, version: 1)
        let leg: CallLeg
        do {
            leg = try await ua.call(uri, via: target, body: Array(offer.text.utf8))
        } catch {
            await session.stop()
            var summary = await call.summary()
            if case UserAgentError.rejected(let code, let reason) = error {
                summary.status = code
                summary.error = "\(code) \(reason)"
            } else {
                summary.error = "\(error)"
            }
            return summary
        }
        let agreed = try OfferAnswer.accept(answer: try SDPBody.parse(leg.remoteBody), to: offer)
        try await session.update(agreed)
        await delegate.attach(call, dialog: leg.dialog.id)
        await session.start()
        var dtmfError: String?
        if let dtmf, !dtmf.isEmpty {
            try? await Task.sleep(for: .milliseconds(200))
            let dialog = leg.dialog.id
            do {
                try await call.sendDigits(dtmf) { relay in
                    try await ua.requestInDialog(dialog, .info, body: Array(relay.body.utf8), contentType: .dtmfRelay)
                }
            } catch {
                dtmfError = "\(error)"
            }
        }
        // Hang up after the given time, or earlier if the far end does.
        let endedByRemote = await delegate.waitForEnd(upTo: hangupAfter)
        if !endedByRemote {
            try? await ua.hangUp(leg.dialog.id)
        }
        await session.stop()
        var summary = await call.summary()
        summary.error = dtmfError
        return summary
    }
}

actor CallDelegate: UserAgentDelegate {
    var call: MediaCall?
    var dialog: DialogID?
    var ended = false
    var waiter: CheckedContinuation<Bool, Never>?

    func attach(_ call: MediaCall, dialog: DialogID) {
        self.call = call
        self.dialog = dialog
    }

    func incomingInvite(_ request: SIPRequest) async -> InviteDecision {
        .reject(status: 486, reason: "Busy Here (a calling tool)", headers: [])
    }

    func callEnded(_ dialog: DialogID, byRemote: Bool) async {
        ended = true
        waiter?.resume(returning: true)
        waiter = nil
    }

    func otherRequest(_ request: SIPRequest) async -> SIPResponse? {
        guard let call, DialogID.forIncoming(request) == dialog else { return nil }
        return await call.handleInDialog(request)
    }

    func acknowledged(_ dialog: DialogID, request: SIPRequest) async {
        guard dialog == self.dialog else { return }
        await call?.acknowledged(request)
    }

    /// True when the far end hung up first.
    func waitForEnd(upTo duration: Duration) async -> Bool {
        if ended { return true }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: duration)
            await self?.timedOut()
        }
        let result = await withCheckedContinuation { waiter = $0 }
        timer.cancel()
        return result
    }

    private func timedOut() {
        waiter?.resume(returning: false)
        waiter = nil
    }
}
