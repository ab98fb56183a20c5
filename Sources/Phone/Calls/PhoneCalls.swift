// The phone's calls: SIP with the call server and RTP with the far end, nothing else. Placing,
// ringing (until answered, declined or cancelled), answering (also offerless INVITEs from the
// call server's click-to-dial, and Auto Answer), hold and retrieve by re-INVITE, mute, volume,
// DTMF (RFC 4733, or SIP INFO when the far end has no telephone-event), end. The collaboration
// server plays no part here.

import Audio
import Foundation
import Logging
import Media
import NIOPosix
import SDP
import SIP
import SIPCore
import SIPMessage
import CallMedia
import Wire

public struct CallSnapshot: Sendable, Encodable {
    public var id: String
    /// The call server's id for it (CTI).
    public var serverCall: String
    public var state: PhoneCallState
    public var direction: String
    public var remote: Remote
    public var muted: Bool
    public var volume: Double
    /// Being recorded now (online only; see the recording policy).
    public var recording: Bool
    /// The far end holds the call (its last offer was sendonly or inactive).
    public var heldByFarEnd: Bool
    public var startedAt: Date
    public var answeredAt: Date?
    public var media: Media

    public struct Remote: Sendable, Encodable {
        public var number: String
        public var name: String?
    }

    /// A call the call server offered this phone's ACD agent (absent otherwise).
    public var acd: ACD?
    /// A call that comes back to this phone (a transfer its target did not answer, a call held
    /// too long): where it was and why (absent otherwise). Read from the INVITE, so it shows the
    /// same with the collaboration server down.
    public var recall: RecallMark?
    /// A call for the attendant ringing this phone's desktop console: why it came, since when it waits.
    public var console: ConsoleMark?

    public struct ACD: Sendable, Encodable, Equatable {
        public struct Path: Sendable, Encodable, Equatable {
            public var number: String
            public var name: String
        }
        public var agent: String
        public var path: Path

        /// From the call server's `X-Holdfast-ACD: agent=7001;path=5000;name="Sales"`.
        init?(header: String?) {
            guard let header else { return nil }
            let fields = HoldfastHeader.fields(header)
            guard let agent = fields["agent"], let number = fields["path"] else { return nil }
            self.agent = agent
            path = Path(number: number, name: fields["name"] ?? number)
        }
    }

    public struct Media: Sendable, Encodable {
        public var packetsSent: Int
        public var packetsReceived: Int
        public var packetsLost: Int
        /// How digits are sent: `rfc4733` when the far end agreed to telephone-event, else `info`.
        public var dtmfSending: DTMFMethod?
        /// Digits received, by RFC 4733 or SIP INFO.
        public var dtmfReceived: String
        /// The SRTP suite protecting the call's media, or nil for plain RTP.
        public var encryption: String?
        /// SRTP packets that failed authentication or the replay check.
        public var srtpRejected: Int
        /// RTCP packets dropped on an encrypted call for the same reasons (or sent in clear).
        public var srtcpRejected: Int
    }
}

public enum CallFailure: Error, Sendable, Equatable {
    case unknownCall(String)
    case invalidNumber(String)
    case failed(String)
}

/// Audio ends for every call: where the microphone comes from, where the speaker goes.
public struct PhoneAudio: Sendable {
    public var input: String
    public var output: String

    public init(input: String = "null", output: String = "null") {
        self.input = input
        self.output = output
    }

    /// `file:PATH` (WAV, looped), `tone:HZ`, `null` (silence).
    func source() throws -> any AudioSource {
        if input.hasPrefix("file:") { return LoopingSource(samples: try WAV.read(URL(fileURLWithPath: String(input.dropFirst(5))))) }
        if input.hasPrefix("tone:"), let hz = Double(input.dropFirst(5)) { return ToneSource(frequency: hz) }
        return SilenceSource()
    }

    /// `file:PATH` (a WAV per call: PATH with the call's number before the extension), `null`.
    func sink(call index: Int) -> any AudioSink {
        guard output.hasPrefix("file:") else { return NullSink() }
        let url = URL(fileURLWithPath: String(output.dropFirst(5)))
        let numbered = url.deletingPathExtension().path + (index > 1 ? "-\(index)" : "") + "." + (url.pathExtension.isEmpty ? "wav" : url.pathExtension)
        return WAVFileSink(url: URL(fileURLWithPath: numbered))
    }
}

public actor PhoneCalls: UserAgentDelegate {
    final class Entry {
        let id: String
        let direction: String
        var state: PhoneCallState
        var number: String
        var name: String?
        var dialog: DialogID?
        var media: MediaCall?
        var offer: SessionDescription?
        var muted = false
        var volume = 1.0
        let startedAt = Date()
        var answeredAt: Date?
        var decision: CheckedContinuation<InviteDecision, Never>?
        var offerless = false
        /// The WAV being written while the call is recorded.
        var recording: URL?
        /// The call server's id for the call (CTI), for call control through the collaboration server.
        var serverCall: String
        /// Offered to this phone's ACD agent.
        var acd: CallSnapshot.ACD?
        var recall: RecallMark?
        var console: ConsoleMark?

        init(id: String, direction: String, state: PhoneCallState, number: String, name: String?, serverCall: String? = nil) {
            self.id = id
            self.serverCall = serverCall ?? id
            self.direction = direction
            self.state = state
            self.number = number
            self.name = name
        }
    }

    private var entries: [String: Entry] = [:]
    /// What the call server last said of this user's mailbox (RFC 3842 message-summary), kept
    /// whether or not the collaboration server is up; nil until it has said anything.
    public private(set) var messageWaiting: MessageWaiting?
    /// Placed calls whose outcome someone waits for (see `outcome(of:)`).
    private var outcomeWaiters: [String: CheckedContinuation<(Int, String), Never>] = [:]
    private var order: [String] = []
    private var ua: UserAgent?
    private var domain = "127.0.0.1"
    private var target: SIPTarget?
    private var callCount = 0
    private var echoDigits = false
    let host: String
    let audio: PhoneAudio
    /// SRTP for the calls' media; keys are offered only while the call server is reached over TLS.
    let mediaEncryption: MediaEncryptionPolicy
    let recordings: CallRecordings
    var autoAnswer: Bool
    let nameFor: @Sendable (String) async -> String?
    let changed: @Sendable () async -> Void
    private let logger = Logger(label: "holdfast.phone.calls")

    public init(host: String, audio: PhoneAudio, recordings: CallRecordings, autoAnswer: Bool, mediaEncryption: MediaEncryptionPolicy = .optional,
                nameFor: @escaping @Sendable (String) async -> String?, changed: @escaping @Sendable () async -> Void) {
        self.host = host
        self.audio = audio
        self.mediaEncryption = mediaEncryption
        self.recordings = recordings
        self.autoAnswer = autoAnswer
        self.nameFor = nameFor
        self.changed = changed
    }

    func setEchoDigits(_ on: Bool) { echoDigits = on }
    func setAutoAnswer(_ on: Bool) { autoAnswer = on }

    /// The user agent calls are placed through (the registered call server).
    func attach(_ ua: UserAgent, domain: String, target: SIPTarget) {
        self.ua = ua
        self.domain = domain
        self.target = target
    }

    // MARK: - Snapshot

    public func snapshots() async -> [CallSnapshot] {
        var result: [CallSnapshot] = []
        for id in order {
            guard let e = entries[id] else { continue }
            let counters = await e.media?.session.counters
            let sending: DTMFMethod? = switch await e.media?.session.sendsTelephoneEvents {
            case true?: .rfc4733
            case false?: .info
            case nil: nil
            }
            result.append(CallSnapshot(id: e.id, serverCall: e.serverCall, state: e.state, direction: e.direction, remote: .init(number: e.number, name: e.name),
                                       muted: e.muted, volume: e.volume, recording: e.recording != nil,
                                       heldByFarEnd: await e.media?.heldByFarEnd ?? false, startedAt: e.startedAt, answeredAt: e.answeredAt,
                                       media: .init(packetsSent: counters?.packetsSent ?? 0, packetsReceived: counters?.packetsReceived ?? 0,
                                                    packetsLost: counters?.packetsLost ?? 0, dtmfSending: sending,
                                                    dtmfReceived: await e.media?.session.digitsReceived ?? "",
                                                    encryption: await e.media?.session.encryption?.rawValue, srtpRejected: counters?.srtpRejected ?? 0,
                                                    srtcpRejected: counters?.srtcpRejected ?? 0),
                                       acd: e.acd, recall: e.recall, console: e.console))
        }
        return result
    }

    public func state(of id: String) -> PhoneCallState? { entries[id]?.state }
    public func serverCall(of id: String) -> String? { entries[id]?.serverCall }

    // MARK: - Placing

    /// Starts a call to `number` and returns its id at once; its progress shows in the snapshots.
    public func place(_ number: String) async throws(CallFailure) -> String {
        guard let ua, let target else { throw .failed("not registered with a call server") }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || "*#+".contains($0) }) else { throw .invalidNumber(number) }
        let uri: SIPURI
        do { uri = try SIPURI("sip:\(number)@\(domain)") } catch { throw .invalidNumber(number) }
        let id = "\(UUID().uuidString.lowercased())@\(host)"
        let entry = Entry(id: id, direction: "outgoing", state: .dialing, number: number, name: await nameFor(number))
        let media: MediaCall
        do { media = try await openMedia(remote: number) } catch let failure as CallFailure { throw failure } catch { throw .failed("audio could not start: \(error)") }
        entry.media = media
        add(entry)
        for other in entries.values where other.id != id && other.state == .connected { try? await hold(other.id) }
        let offer = await media.offer()
        Task {
            do {
                let leg = try await ua.call(uri, via: target, body: Array(offer.text.utf8), callID: id)
                let agreed = try OfferAnswer.accept(answer: try SDPBody.parse(leg.remoteBody), to: offer)
                try await media.session.update(agreed)
                await self.connected(id, dialog: leg.dialog.id, identity: leg.finalResponse)
            } catch {
                self.logger.info("call not connected", metadata: ["call": "\(id)", "error": "\(error)"])
                if case UserAgentError.rejected(let status, let reason) = error {
                    self.settle(id, status: status, reason: reason)
                } else {
                    self.settle(id, status: 500, reason: "\(error)")
                }
                await self.ended(id)
            }
        }
        await changed()
        return id
    }

    private func connected(_ id: String, dialog: DialogID, identity response: SIPResponse?) async {
        guard let entry = entries[id] else { return }
        if entry.state == .ended {
            try? await ua?.hangUp(dialog)
            return
        }
        entry.dialog = dialog
        entry.state = .connected
        entry.answeredAt = Date()
        // Connected identity: who answered (RFC 4916 style, from the call server's 200 OK).
        if let response, let (number, name) = Self.identity(response.headers[.init("P-Asserted-Identity")] ?? response.to?.description) {
            entry.number = number
            let known = await nameFor(number)
            entry.name = name ?? known ?? entry.name
        }
        await entry.media?.session.start()
        settle(id, status: 200, reason: "OK")
        await changed()
    }

    /// The outcome of a call we placed, for whoever waits on it (a transfer reporting to its referrer).
    private func settle(_ id: String, status: Int, reason: String) {
        outcomeWaiters.removeValue(forKey: id)?.resume(returning: (status, reason))
    }

    private func outcome(of id: String) async -> (Int, String) {
        guard let entry = entries[id] else { return (500, "Server Internal Error") }
        if entry.state == .connected { return (200, "OK") }
        if entry.state == .ended { return (487, "Request Terminated") }
        return await withCheckedContinuation { outcomeWaiters[id] = $0 }
    }

    // MARK: - Transferred (RFC 3515, RFC 5589 §6: this phone is the party transferred)

    public func transferRequested(_ dialog: DialogID, to target: NameAddress, refer: SIPRequest) async -> Bool {
        guard let entry = entries[dialog.callID], entry.dialog == dialog, entry.state == .connected || entry.state == .held,
              case .sip(let uri) = target.uri, let number = uri.user else { return false }
        let sequence = refer.cseq?.sequence ?? 0
        logger.info("transfer requested", metadata: ["call": "\(entry.id)", "to": "\(number)"])
        Task { await self.transfer(dialog, to: number, refer: sequence) }
        return true
    }

    /// Calls the transfer target and tells the referrer how it went; the referrer then ends the
    /// old call (RFC 5589).
    private func transfer(_ dialog: DialogID, to number: String, refer sequence: UInt32) async {
        guard let ua else { return }
        let (status, reason): (Int, String)
        do {
            let id = try await place(number)
            (status, reason) = await outcome(of: id)
        } catch {
            (status, reason) = (500, "\(error)")
        }
        await ua.transferProgress(dialog, refer: sequence, status: status, reason: reason)
    }

    // MARK: - Incoming

    public func incomingInvite(_ request: SIPRequest) async -> InviteDecision {
        let id = request.callID ?? UUID().uuidString
        let asserted = Self.identity(request.headers[.init("P-Asserted-Identity")] ?? request.from?.description)
        let number = asserted?.number ?? "unknown"
        var name = asserted?.name
        if name == nil { name = await nameFor(number) }
        let entry = Entry(id: id, direction: "incoming", state: .ringing, number: number, name: name,
                          serverCall: request.headers[.init(HoldfastHeader.call)])
        entry.acd = CallSnapshot.ACD(header: request.headers[.init(HoldfastHeader.acd)])
        entry.recall = RecallMark(header: request.headers[.init(RecallMark.header)])
        entry.console = ConsoleMark(header: request.headers[.init(ConsoleMark.header)])
        do {
            entry.media = try await openMedia(remote: number)
        } catch let failure as CallFailure {
            // Media encryption required without TLS to the call server: no call can be secured.
            guard case .failed(let why) = failure else { return .reject(status: 500, reason: "Audio could not start", headers: []) }
            logger.notice("call refused", metadata: ["from": "\(number)", "reason": "\(why)"])
            return .reject(status: 488, reason: "Not Acceptable Here", headers: [(.warning, "302 \(host) \"\(why)\"")])
        } catch {
            return .reject(status: 500, reason: "Audio could not start", headers: [])
        }
        if request.body.isEmpty {
            entry.offerless = true
        } else {
            do {
                let offer = try SDPBody.parse(request.body)
                // An offer this phone cannot answer (no codec, SRTP it cannot meet) is refused
                // before it rings, not after the user answers.
                if let local = await entry.media?.local { _ = try OfferAnswer.answer(offer, local: local, sessionID: 1, version: 1) }
                entry.offer = offer
            } catch {
                await entry.media?.session.stop()
                logger.notice("call refused", metadata: ["call": "\(id)", "from": "\(number)", "reason": "\(error.description)"])
                return SDPBody.notAcceptable(error, host: host)
            }
        }
        add(entry)
        await changed()
        let callInfo = request.headers.values(.init("Call-Info")).joined(separator: ",")
        // A recall is for the person to take back: Auto Answer does not take it for them.
        if entry.recall == nil, entry.console == nil, autoAnswer || callInfo.contains("answer-after=0") {
            return await answerDecision(entry)
        }
        return .ring { [weak self] in
            guard let self else { return .reject(status: 480, reason: nil, headers: []) }
            return await self.waitForDecision(id)
        }
    }

    private func waitForDecision(_ id: String) async -> InviteDecision {
        guard let entry = entries[id], entry.state == .ringing else { return .reject(status: 487, reason: nil, headers: []) }
        return await withCheckedContinuation { entry.decision = $0 }
    }

    /// Our answer: to the offer in the INVITE, or an offer of our own in the 200 (answered in the ACK).
    private func answerDecision(_ entry: Entry) async -> InviteDecision {
        guard let media = entry.media else { return .reject(status: 500, reason: nil, headers: []) }
        if entry.offerless {
            let offer = await media.offer()
            entry.offer = offer
            return .answer(body: Array(offer.text.utf8), contentType: .sdp, ringFor: .zero)
        }
        guard let offer = entry.offer else { return .reject(status: 488, reason: nil, headers: []) }
        do {
            return .answer(body: try await media.answer(reoffer: offer), contentType: .sdp, ringFor: .zero)
        } catch {
            return SDPBody.notAcceptable(error, host: host)
        }
    }

    public func answer(_ id: String) async throws(CallFailure) {
        guard let entry = entries[id], entry.state == .ringing, let decision = entry.decision else { throw .unknownCall(id) }
        entry.decision = nil
        for other in entries.values where other.id != id && other.state == .connected { try? await hold(other.id) }
        decision.resume(returning: await answerDecision(entry))
    }

    public func inviteCancelled(_ invite: SIPRequest) async {
        guard let id = invite.callID, let entry = entries[id] else { return }
        entry.decision?.resume(returning: .reject(status: 487, reason: nil, headers: []))
        entry.decision = nil
        await ended(id)
    }

    public func callEstablished(_ dialog: Dialog, request: SIPRequest) async {
        guard let entry = entries[dialog.id.callID] else { return }
        entry.dialog = dialog.id
        entry.state = .connected
        entry.answeredAt = Date()
        if !entry.offerless { await entry.media?.session.start() }
        await changed()
    }

    public func acknowledged(_ dialog: DialogID, request: SIPRequest) async {
        guard let entry = entries[dialog.callID] else { return }
        guard entry.offerless, let offer = entry.offer, !request.body.isEmpty else {
            await entry.media?.acknowledged(request)
            return
        }
        entry.offerless = false
        if let agreed = try? OfferAnswer.accept(answer: try SDPBody.parse(request.body), to: offer) {
            try? await entry.media?.session.update(agreed)
        }
        await entry.media?.session.start()
        await changed()
    }

    public func callEnded(_ dialog: DialogID, byRemote: Bool) async {
        await ended(dialog.callID)
    }

    public func otherRequest(_ request: SIPRequest) async -> SIPResponse? {
        if request.method == .notify, request.headers[.event]?.lowercased().hasPrefix("message-summary") == true {
            guard let waiting = Self.messageSummary(request.bodyText) else {
                return SIPResponse(replyingTo: request, statusCode: 400, reasonPhrase: "Bad message-summary body (RFC 3842)")
            }
            if request.headers[.subscriptionState]?.lowercased().hasPrefix("terminated") == true,
               let id = DialogID.forIncoming(request), mailboxSubscription?.id == id {
                mailboxSubscription = nil  // subscribed again at the next turn of `watchMailbox`
            }
            if waiting != messageWaiting {
                messageWaiting = waiting
                await changed()
            }
            return SIPResponse(replyingTo: request, statusCode: 200)
        }
        guard let callID = request.callID, let entry = entries[callID], let media = entry.media else { return nil }
        return await media.handleInDialog(request)
    }

    // MARK: - Message waiting (RFC 3842)

    private var mailboxWatch: Task<Void, Never>?
    private var mailboxSubscription: (id: DialogID, target: SIPTarget)?

    /// Subscribes to the user's mailbox (`message-summary`) on the registered call server and
    /// keeps the subscription refreshed, again on the new server after a failover; the NOTIFYs
    /// set `messageWaiting`, which the collaboration server is not needed for.
    func watchMailbox(user: String) {
        guard mailboxWatch == nil else { return }
        mailboxWatch = Task { [weak self] in
            while !Task.isCancelled {
                let wait = await self?.keepMailboxSubscription(user) ?? 60
                try? await Task.sleep(for: .seconds(wait))
            }
        }
    }

    /// Subscribes, or refreshes the subscription; the seconds until the next turn.
    private func keepMailboxSubscription(_ user: String) async -> Double {
        guard let ua, let target, let uri = try? SIPURI("sip:\(user)@\(domain)") else { return 5 }
        if let current = mailboxSubscription, current.target == target {
            if let granted = try? await ua.refreshSubscription(current.id, event: "message-summary", expires: 600), granted > 0 {
                return max(30, Double(granted) / 2)
            }
            mailboxSubscription = nil
        }
        do {
            let (id, granted) = try await ua.subscribe(event: "message-summary", accept: "application/simple-message-summary", to: uri,
                                                       via: target, expires: 600)
            mailboxSubscription = (id, target)
            return max(30, Double(granted) / 2)
        } catch {
            logger.info("mailbox not watched", metadata: ["error": "\(error)"])
            return 30
        }
    }

    /// Reads `Messages-Waiting` and `Voice-Message: new/old` (RFC 3842 §5.2).
    static func messageSummary(_ body: String) -> MessageWaiting? {
        var waiting: Bool?, counts: MessageWaiting?
        for line in body.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            switch parts[0].lowercased() {
            case "messages-waiting": waiting = parts[1].lowercased() == "yes"
            case "voice-message":
                let numbers = parts[1].split(separator: " ").first?.split(separator: "/").compactMap { Int($0) } ?? []
                if numbers.count == 2 { counts = MessageWaiting(new: numbers[0], old: numbers[1]) }
            default: break
            }
        }
        guard let waiting else { return nil }
        return counts ?? MessageWaiting(new: waiting ? 1 : 0, old: 0)
    }

    // MARK: - In the call

    public func end(_ id: String) async throws(CallFailure) {
        guard let entry = entries[id], entry.state != .ended else { throw .unknownCall(id) }
        switch entry.state {
        case .ringing:
            entry.decision?.resume(returning: .reject(status: 603, reason: "Decline", headers: []))
            entry.decision = nil
        case .dialing:
            await ua?.cancelCall(callID: id)
        default:
            if let dialog = entry.dialog { try? await ua?.hangUp(dialog) }
        }
        await ended(id)
    }

    public func hold(_ id: String) async throws(CallFailure) {
        try await redirect(id, direction: .sendonly, from: .connected, to: .held)
    }

    public func retrieve(_ id: String) async throws(CallFailure) {
        for other in entries.values where other.id != id && other.state == .connected { try? await hold(other.id) }
        try await redirect(id, direction: .sendrecv, from: .held, to: .connected)
    }

    /// A new offer with `direction` (RFC 3264 §8.4: `sendonly` holds, `sendrecv` resumes).
    private func redirect(_ id: String, direction: MediaDirection, from: PhoneCallState, to: PhoneCallState) async throws(CallFailure) {
        guard let entry = entries[id], entry.state == from, let dialog = entry.dialog, let media = entry.media, let ua else { throw .unknownCall(id) }
        let offer = await media.offer(direction: direction)
        do {
            let response = try await ua.reinvite(dialog, body: Array(offer.text.utf8))
            guard response.isSuccess else { throw CallFailure.failed("the far end refused: \(response.statusCode) \(response.reasonPhrase)") }
            if let agreed = try? OfferAnswer.accept(answer: try SDPBody.parse(response.body), to: offer) {
                try await media.session.update(agreed)
            }
        } catch let failure as CallFailure {
            throw failure
        } catch {
            throw .failed("\(error)")
        }
        entry.state = to
        await changed()
    }

    public func mute(_ id: String, _ on: Bool) async throws(CallFailure) {
        guard let entry = entries[id], entry.state != .ended else { throw .unknownCall(id) }
        entry.muted = on
        await entry.media?.session.setMuted(on)
        await changed()
    }

    public func volume(_ id: String, _ level: Double) async throws(CallFailure) {
        guard let entry = entries[id], entry.state != .ended else { throw .unknownCall(id) }
        entry.volume = max(0, min(2, level))
        await entry.media?.session.setVolume(entry.volume)
        await changed()
    }

    /// RFC 4733 events when the far end agreed to them, else one SIP INFO per digit.
    public func dtmf(_ id: String, _ digits: String) async throws(CallFailure) {
        guard let entry = entries[id], entry.state == .connected, let media = entry.media, let dialog = entry.dialog, let ua else { throw .unknownCall(id) }
        guard !digits.isEmpty, digits.allSatisfy({ "0123456789*#ABCD".contains($0) }) else { throw .invalidNumber(digits) }
        do {
            try await media.sendDigits(digits) { relay in
                try await ua.requestInDialog(dialog, .info, body: Array(relay.body.utf8), contentType: .dtmfRelay)
            }
        } catch {
            throw .failed("\(error)")
        }
    }

    // MARK: - Recording

    /// Starts (`on`) or stops recording a connected or held call. Stopped, the recording goes to
    /// the collaboration server.
    public func record(_ id: String, _ on: Bool) async throws(CallFailure) {
        guard let entry = entries[id], entry.state == .connected || entry.state == .held, let media = entry.media else { throw .unknownCall(id) }
        if on {
            guard entry.recording == nil else { return }
            do {
                let wav = try await recordings.begin(call: entry.serverCall, remote: entry.number)
                do {
                    try await media.session.startRecording(to: wav)
                } catch {
                    await recordings.cancel(wav)
                    throw error
                }
                entry.recording = wav
            } catch {
                throw .failed("the recording could not start: \(error)")
            }
        } else {
            await finishRecording(entry)
        }
        await changed()
    }

    private func finishRecording(_ entry: Entry) async {
        guard let wav = entry.recording else { return }
        entry.recording = nil
        _ = try? await entry.media?.session.stopRecording()
        await recordings.finished(wav)
    }

    /// The collaboration server is lost: every recording stops, and the policy says whether its
    /// partial file is discarded or kept for the server's return. The calls go on untouched.
    func serverLost(policy: PhoneConfiguration.RecordingPolicy) async {
        var stopped = false
        for entry in entries.values {
            guard let wav = entry.recording else { continue }
            entry.recording = nil
            _ = try? await entry.media?.session.stopRecording()
            await recordings.lost(wav, policy: policy)
            stopped = true
        }
        if stopped { await changed() }
    }

    public func digitsReceived(_ id: String) async -> String { await entries[id]?.media?.session.digitsReceived ?? "" }

    // MARK: - Helpers

    private func add(_ entry: Entry) {
        entries[entry.id] = entry
        order.append(entry.id)
        // Ended calls are kept a while for the UI; only the last 20 are listed.
        if order.count > 20, let oldest = order.first(where: { entries[$0]?.state == .ended }) {
            order.removeAll { $0 == oldest }
            entries[oldest] = nil
        }
    }

    private func ended(_ id: String) async {
        guard let entry = entries[id], entry.state != .ended else { return }
        entry.state = .ended
        entry.decision?.resume(returning: .reject(status: 487, reason: nil, headers: []))
        entry.decision = nil
        await finishRecording(entry)
        await entry.media?.session.stop()
        await changed()
    }

    private func openMedia(remote: String) async throws -> MediaCall {
        let srtp = try localSRTP()
        callCount += 1
        let configuration = MediaSessionConfiguration(localAddress: host, remoteAddress: "127.0.0.1", remotePort: 9, codec: .pcmu, telephoneEventPayloadType: 101)
        let session = try await MediaSession.open(group: MultiThreadedEventLoopGroup.singleton, configuration: configuration,
                                                  source: try audio.source(), sink: audio.sink(call: callCount))
        if echoDigits {
            Task {
                for await digit in session.digits { await session.sendDigits(String(digit)) }
            }
        }
        return MediaCall(session: session, remote: remote, local: MediaEndpoint(address: host, port: session.localPort, srtp: srtp))
    }

    /// This call's SRTP offer: keys only while the call server is reached over TLS (RFC 4568 §8.3);
    /// `required` without TLS is a call that cannot be made, and says why.
    private func localSRTP() throws(CallFailure) -> LocalSRTP? {
        let kind = target?.kind ?? .udp
        switch mediaEncryption {
        case .off: return nil
        case .optional: return kind == .tls ? LocalSRTP.make(.optional) : nil
        case .required:
            guard kind == .tls else {
                throw .failed("media encryption is required and the call server is reached over \(kind.rawValue): SRTP keys are only sent over TLS")
            }
            return LocalSRTP.make(.required)
        }
    }

    /// Number and display name from `"Name" <sip:2002@host>` (P-Asserted-Identity or From).
    static func identity(_ value: String?) -> (number: String, name: String?)? {
        guard let value, let address = try? NameAddress(value) else { return nil }
        let number: String
        switch address.uri {
        case .sip(let uri): guard let user = uri.user else { return nil }; number = user
        case .tel(let tel): number = tel.number
        default: return nil
        }
        let name = address.displayName.flatMap { $0.isEmpty ? nil : $0 }
        return (number, name)
    }
}
