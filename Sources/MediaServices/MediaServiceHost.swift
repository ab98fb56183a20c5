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
import Voicemail
import Wire

public actor MediaServiceHost: UserAgentDelegate {
    let configuration: MediaHostConfiguration
    let music: [Int16]
    let group: any EventLoopGroup
    private var ua: UserAgent?
    /// Calls being answered (by Call-ID) and running (by dialog): offer/answer, re-INVITEs and
    /// digits are the same glue every Holdfast call uses (CallMedia).
    private var pending: [String: MediaCall] = [:]
    private var running: [DialogID: MediaCall] = [:]
    /// The queue announcers of callers waiting on ACD paths, by Call-ID.
    private var queues: [String: QueueSource] = [:]
    /// Voicemail calls, by Call-ID, and what serves them (nil: this host has no mailboxes).
    private var voicemails: [String: VoicemailCall] = [:]
    let voicemail: VoicemailContext?
    let prompts: Prompts
    /// The meet-me rooms, by number, and the callers at them, by Call-ID.
    public nonisolated let rooms: ConferenceRooms
    private var conferenceCalls: [String: ConferenceCall] = [:]
    /// Announcements answered, by Call-ID: how long each speaks before the service hangs up.
    private var announcements: [String: Double] = [:]
    private var dialogsOfConferences: [String: DialogID] = [:]
    private let logger = Logger(label: "holdfast.media")

    /// Starts listening (UDP and TCP) and answering.
    /// `conferenceEvent` hears of joins, leaves and talkers in the rooms.
    public static func start(_ configuration: MediaHostConfiguration, voicemail: VoicemailContext? = nil,
                             conferenceEvent: @escaping @Sendable (ConferenceRoom.ConferenceEvent) -> Void = { _ in },
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> MediaServiceHost {
        var music = DefaultMusic.samples()
        if let path = configuration.musicOnHold {
            do { music = try WAV.read(URL(fileURLWithPath: path)) } catch {
                throw MediaHostError("musicOnHold: \(path) cannot be played: \(error)")
            }
        }
        let transport = SIPTransport(group: group)
        try await transport.listenUDPAndTCP(host: configuration.host, port: configuration.port)
        let host = MediaServiceHost(configuration: configuration, music: music, group: group, voicemail: voicemail, conferenceEvent: conferenceEvent)
        var stackConfiguration = SIPStack.Configuration()
        stackConfiguration.userAgent = "Holdfast media"
        let ua = UserAgent(stack: SIPStack(transport: transport, configuration: stackConfiguration),
                           identity: .init(user: "media", domain: configuration.host), delegate: host)
        await host.attach(ua)
        await ua.start()
        return host
    }

    init(configuration: MediaHostConfiguration, music: [Int16], group: any EventLoopGroup, prompts: Prompts = .shipped, voicemail: VoicemailContext? = nil,
         conferenceEvent: @escaping @Sendable (ConferenceRoom.ConferenceEvent) -> Void = { _ in }) {
        self.configuration = configuration
        rooms = ConferenceRooms(configuration.conferences, group: group, changed: conferenceEvent)
        self.voicemail = voicemail
        self.music = music
        self.group = group
        self.prompts = prompts
    }

    private func attach(_ ua: UserAgent) { self.ua = ua }

    /// Where the call server sends calls for a service (UDP and TCP).
    public nonisolated var port: Int { get async { await ua?.stack.transport.localAddress(.udp)?.port ?? 0 } }

    public var sessionCount: Int { pending.count + running.count }

    public func shutdown() async {
        // A message being left is kept as far as it got.
        for voicemail in voicemails.values { voicemail.send(.hungUp) }
        for conference in conferenceCalls.values { conference.end() }
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
        var voicemailCall: VoicemailCall?
        var conferenceCall: ConferenceCall?
        var clock: MediaClock?
        switch service {
        case .echo:
            let loop = EchoLoop()
            (source, sink) = (loop, loop)
        case .musicOnHold:
            (source, sink) = (LoopingSource(samples: music), NullSink())
        case .announce:
            let names = Announcement.prompts(request.headers[HeaderName(Announcement.header)], known: prompts)
            guard !names.isEmpty else { return .reject(status: 400, reason: "Nothing to announce (\(Announcement.header))", headers: []) }
            let samples = prompts.play(names)
            announcements[request.callID ?? ""] = Double(samples.count) / 8000
            (source, sink) = (OnceSource(samples: samples), NullSink())
        case .queue:
            // Where the caller stands, as the call server put it (unknown: music and the welcome).
            let status = request.headers[QueueStatus.header].flatMap(QueueStatus.init(parsing:)) ?? QueueStatus(position: 0, expectedWait: nil, interval: 30)
            let queue = QueueSource(QueueAnnouncer(prompts: prompts, music: music, status: status))
            queues[request.callID ?? ""] = queue
            (source, sink) = (queue, NullSink())
        case .voicemail:
            // Only the call server opens a mailbox: its request is signed for this very call.
            guard let voicemail else { return .reject(status: 404, reason: "No mailboxes on this media host", headers: []) }
            guard let value = request.headers[HeaderName(VoicemailRequest.header)],
                  let asked = VoicemailRequest.verified(value, callID: request.callID ?? "", key: voicemail.key) else {
                return .reject(status: 403, reason: "Voicemail is reached through the call server", headers: [])
            }
            let caller = request.callerNumber
            let mode: VoicemailMachine.Mode
            switch asked.kind {
            case .deposit(let mailbox, let greeting):
                mode = .deposit(mailbox: mailbox, caller: caller, greeting: greeting, full: voicemail.store.count(mailbox) >= voicemail.settings.maxMessages)
            case .retrieve(let mailbox, let verified): mode = .retrieve(mailbox: mailbox, verified: verified)
            case .login: mode = .retrieve(mailbox: nil, verified: false)
            }
            let callID = request.callID ?? ""
            let call = VoicemailCall(mode: mode, caller: caller, callerName: request.from?.displayName, context: voicemail, prompts: prompts,
                                     hangUp: { [weak self] in await self?.endVoicemail(callID: callID) })
            voicemails[callID] = call
            voicemailCall = call
            (source, sink) = (call.player, call.recorder)
        case .conference:
            guard let number = request.headers[HeaderName(ConferenceRoom.header)], let room = rooms[number] else {
                return .reject(status: 404, reason: "No such conference room on this media host", headers: [])
            }
            let callID = request.callID ?? ""
            let caller = request.callerNumber
            // The participant is known by the call server's call, so CTI names it as it names calls.
            let id = request.headers[HeaderName(HoldfastHeader.call)] ?? callID
            let call = ConferenceCall(room: room, id: id, number: caller, name: request.from?.displayName, prompts: prompts,
                                      hangUp: { [weak self] in await self?.endConference(callID: callID) })
            conferenceCalls[callID] = call
            conferenceCall = call
            clock = room.clock
            (source, sink) = (call.audio, call.audio)
        }
        let direction: MediaDirection = service.sendsOnly ? .sendonly : .sendrecv
        let session: MediaSession
        do {
            var media = MediaSessionConfiguration(localAddress: configuration.host, remoteAddress: "127.0.0.1", remotePort: 9, codec: .pcmu,
                                                  telephoneEventPayloadType: nil)
            media.direction = direction
            session = try await MediaSession.open(group: group, configuration: media, ports: configuration.rtpPorts, source: source, sink: sink, clock: clock)
        } catch {
            if voicemailCall != nil { voicemails[request.callID ?? ""] = nil }
            if conferenceCall != nil { conferenceCalls[request.callID ?? ""] = nil }
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
                // Nothing of the refused call stays behind.
                let callID = request.callID ?? ""
                queues[callID] = nil
                voicemails.removeValue(forKey: callID)?.send(.hungUp)
                conferenceCalls.removeValue(forKey: callID)?.end()
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
        if let voicemail = voicemails[dialog.id.callID] {
            dialogsOfVoicemail[dialog.id.callID] = dialog.id
            let digits = call.session.digits
            Task { await voicemail.run(digits: digits) }
        }
        if let seconds = announcements.removeValue(forKey: dialog.id.callID) {
            // Said, then a moment's silence, then goodbye (a media length, not a wait for an event).
            let id = dialog.id
            Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(Int((seconds + 0.5) * 1000)))
                await self?.endAnnouncement(id)
            }
        }
        if let conference = conferenceCalls[dialog.id.callID] {
            dialogsOfConferences[dialog.id.callID] = dialog.id
            let session = call.session, timeout = configuration.rtpTimeoutSeconds
            Task { await conference.run(session: session, rtpTimeout: timeout, held: { await call.heldByFarEnd }) }
        }
    }

    /// An announcement said what it had to: the service hangs up (if the caller has not).
    func endAnnouncement(_ id: DialogID) async {
        guard let call = running.removeValue(forKey: id) else { return }
        try? await ua?.hangUp(id)
        await call.session.stop()
    }

    /// A conference call's entry refused the caller, the RTP timeout or a controller removed it.
    func endConference(callID: String) async {
        guard let call = conferenceCalls.removeValue(forKey: callID) else { return }
        call.end()
        call.room.leave(call.id)
        rooms.closeIfEmpty(call.room)
        guard let id = dialogsOfConferences.removeValue(forKey: callID) else { return }
        try? await ua?.hangUp(id)
        await running.removeValue(forKey: id)?.session.stop()
    }

    /// Takes a participant out of its room and hangs up its call (CTI); false if it is not there.
    public func removeParticipant(_ participant: String, room: String) async -> Bool {
        guard let (callID, _) = conferenceCalls.first(where: { $0.value.id == participant && $0.value.room.configuration.number == room }) else { return false }
        await endConference(callID: callID)
        return true
    }

    /// Dialogs of voicemail calls, by Call-ID (the service hangs up when its dialogue ends).
    private var dialogsOfVoicemail: [String: DialogID] = [:]

    /// The dialogue said goodbye: the service hangs up.
    func endVoicemail(callID: String) async {
        guard voicemails.removeValue(forKey: callID) != nil, let id = dialogsOfVoicemail.removeValue(forKey: callID) else { return }
        try? await ua?.hangUp(id)
        await running.removeValue(forKey: id)?.session.stop()
    }

    /// A voicemail call's dialogue state (tests).
    public func voicemailState(callID: String) async -> VoicemailMachine.State? {
        await voicemails[callID]?.state
    }

    public func acknowledged(_ dialog: DialogID, request: SIPRequest) async {
        await running[dialog]?.acknowledged(request)
    }

    public func inviteCancelled(_ invite: SIPRequest) async {
        queues[invite.callID ?? ""] = nil
        announcements[invite.callID ?? ""] = nil
        voicemails.removeValue(forKey: invite.callID ?? "")?.send(.hungUp)
        conferenceCalls.removeValue(forKey: invite.callID ?? "")?.end()
        await pending.removeValue(forKey: invite.callID ?? "")?.session.stop()
    }

    public func callEnded(_ dialog: DialogID, byRemote: Bool) async {
        queues[dialog.callID] = nil
        dialogsOfVoicemail[dialog.callID] = nil
        voicemails.removeValue(forKey: dialog.callID)?.send(.hungUp)
        dialogsOfConferences[dialog.callID] = nil
        if let conference = conferenceCalls.removeValue(forKey: dialog.callID) {
            conference.room.leave(conference.id)
            conference.end()
            rooms.closeIfEmpty(conference.room)
        }
        await running.removeValue(forKey: dialog)?.session.stop()
    }

    /// A re-offer in the call (the call server moves the far end), INFO (digits, or a waiting
    /// caller's new place in the queue), anything else.
    public func otherRequest(_ request: SIPRequest) async -> SIPResponse? {
        guard let id = DialogID.forIncoming(request), let call = running[id] else { return nil }
        if request.method == .info, request.contentType?.essence == QueueStatus.contentType.essence {
            guard let queue = queues[id.callID] else {
                return SIPResponse(replyingTo: request, statusCode: 415, reasonPhrase: "Unsupported INFO package")
            }
            guard let status = QueueStatus(parsing: request.bodyText) else {
                return SIPResponse(replyingTo: request, statusCode: 400, reasonPhrase: "Bad queue status (position=N;wait=S;interval=S)")
            }
            queue.update(status)
            return SIPResponse(replyingTo: request, statusCode: 200)
        }
        return await call.handleInDialog(request)
    }

    /// The status a waiting caller's announcer has, and how many announcements it has started.
    public func queueStatus(callID: String) -> (status: QueueStatus, announcements: Int)? {
        queues[callID].map { ($0.status, $0.announcements) }
    }
}

public struct MediaHostError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension SIPRequest {
    /// The user part of the From URI (the caller's number), or "" when it has none.
    var callerNumber: String {
        if case .sip(let uri)? = from?.uri { return uri.user ?? "" }
        return ""
    }
}
