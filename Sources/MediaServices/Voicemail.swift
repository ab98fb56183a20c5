// The voicemail media service: a call to sip:voicemail@media leaves a message in a mailbox or
// listens to one, as the call server asked in X-Holdfast-Voicemail (signed, so only the call
// server can open a mailbox without its PIN). The dialogue is Voicemail's VoicemailMachine; this
// runs its actions against the call's media and the mailbox store.

import Audio
import Crypto
import Foundation
import Logging
import Media
import Synchronization
import Voicemail
import Wire

/// What the call server asks of the voicemail service for one call.
public struct VoicemailRequest: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case deposit(mailbox: String, greeting: VoicemailGreeting)
        case retrieve(mailbox: String, verified: Bool)
        /// `*98`: the mailbox is asked for.
        case login
    }

    public var kind: Kind
    public static let header = "X-Holdfast-Voicemail"

    public init(_ kind: Kind) { self.kind = kind }

    /// `deposit;mailbox=2002;greeting=busy`, `retrieve;mailbox=2001;verified`, `login`.
    public var text: String {
        switch kind {
        case .deposit(let mailbox, let greeting): return "deposit;mailbox=\(mailbox);greeting=\(greeting.rawValue)"
        case .retrieve(let mailbox, let verified): return "retrieve;mailbox=\(mailbox)" + (verified ? ";verified" : "")
        case .login: return "login"
        }
    }

    public init?(parsing text: String) {
        var parts = text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.isEmpty else { return nil }
        let verb = parts.removeFirst()
        var parameters: [String: String] = [:]
        for part in parts {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            parameters[pair[0]] = pair.count == 2 ? pair[1] : ""
        }
        switch verb {
        case "deposit":
            guard let mailbox = parameters["mailbox"], let greeting = VoicemailGreeting(rawValue: parameters["greeting"] ?? "unavailable") else { return nil }
            kind = .deposit(mailbox: mailbox, greeting: greeting)
        case "retrieve":
            guard let mailbox = parameters["mailbox"] else { return nil }
            kind = .retrieve(mailbox: mailbox, verified: parameters["verified"] != nil)
        case "login": kind = .login
        default: return nil
        }
    }

    /// The header value, signed for this call: `<text>;sig=<HMAC-SHA256 of Call-ID|text>`.
    public func signed(callID: String, key: [UInt8]) -> String {
        "\(text);sig=\(Self.signature(callID: callID, text: text, key: key))"
    }

    /// The request a signed header carries, if its signature is good for this call.
    public static func verified(_ value: String, callID: String, key: [UInt8]) -> VoicemailRequest? {
        guard let range = value.range(of: ";sig=", options: .backwards) else { return nil }
        let text = String(value[..<range.lowerBound]), hex = Array(value[range.upperBound...].utf8)
        // The hex signature back to bytes, checked by Crypto in constant time.
        guard hex.count == 64 else { return nil }
        var signature = [UInt8]()
        for i in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: hex[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            signature.append(byte)
        }
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data("\(callID)|\(text)".utf8), using: SymmetricKey(data: key)) else {
            return nil
        }
        return VoicemailRequest(parsing: text)
    }

    static func signature(callID: String, text: String, key: [UInt8]) -> String {
        HMAC<SHA256>.authenticationCode(for: Data("\(callID)|\(text)".utf8), using: SymmetricKey(data: key)).map { String(format: "%02x", $0) }.joined()
    }
}

/// What the media host needs to serve mailboxes: the store, the settings, the PINs configured,
/// the key the call server signs its requests with, and where security events go.
public struct VoicemailContext: Sendable {
    /// A fresh signing key.
    public static func newKey() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    public let store: MailboxStore
    public let settings: VoicemailSettings
    public let pins: [String: String]
    /// 32 random bytes, shared with the call server only.
    public let key: [UInt8]
    /// A security event: wrong PINs from `caller` for `mailbox`; `lockedFor` seconds when they locked it.
    public let securityEvent: @Sendable (_ mailbox: String, _ caller: String, _ lockedFor: Int) -> Void
    /// Wrong PINs per mailbox across calls.
    public let pinGuard: PINGuard

    public init(store: MailboxStore, settings: VoicemailSettings, pins: [String: String], key: [UInt8],
                securityEvent: @escaping @Sendable (String, String, Int) -> Void = { _, _, _ in }) {
        self.store = store
        self.settings = settings
        self.pins = pins
        self.key = key
        self.securityEvent = securityEvent
        pinGuard = PINGuard(limit: settings.pinFailures, window: settings.pinLockSeconds)
    }
}

/// Plays what it is given, 20 ms at a time, and says (by generation) when it has all been played.
final class PromptPlayer: AudioSource, Sendable {
    private struct Playing {
        var samples: [Int16] = []
        var position = 0
        var generation = 0
        var told = true
    }
    private let playing = Mutex(Playing())
    private let finished: @Sendable (Int) -> Void

    init(finished: @escaping @Sendable (Int) -> Void) { self.finished = finished }

    func play(_ samples: [Int16], generation: Int) {
        playing.withLock { $0 = Playing(samples: samples, position: 0, generation: generation, told: false) }
    }

    func stop() { playing.withLock { $0 = Playing(samples: [], position: 0, generation: $0.generation, told: true) } }

    func nextFrame() -> [Int16] {
        var frame = [Int16](repeating: 0, count: samplesPerFrame)
        let done: Int? = playing.withLock { state in
            let count = min(samplesPerFrame, state.samples.count - state.position)
            if count > 0 {
                for i in 0..<count { frame[i] = state.samples[state.position + i] }
                state.position += count
                return nil
            }
            guard !state.told else { return nil }
            state.told = true
            return state.generation
        }
        if let done { finished(done) }
        return frame
    }
}

/// Writes what the caller says into a WAV while armed, and stops itself after a run of silence
/// or at the maximum length (telling the driver); what it kept ends where the voice last was.
final class VoicemailRecorder: AudioSink, Sendable {
    private struct Armed {
        var writer: WAVStreamWriter
        var samples = 0
        var lastVoice = 0
        var silentFrames = 0
    }
    private let armed = Mutex<Armed?>(nil)
    private let silenceFrames: Int
    private let maxSamples: Int
    private let stopped: @Sendable () -> Void
    /// Below this RMS a frame is silence (about −42 dBFS).
    static let silenceLevel = 260.0

    init(silenceSeconds: Double, maxSeconds: Double, stopped: @escaping @Sendable () -> Void) {
        silenceFrames = max(1, Int(silenceSeconds * 50))
        maxSamples = Int(maxSeconds * 8000)
        self.stopped = stopped
    }

    func arm(_ url: URL) throws(WAVError) {
        let failure = armed.withLock { state -> WAVError? in
            do {
                state = Armed(writer: try WAVStreamWriter(url: url))
                return nil
            } catch {
                return error as? WAVError ?? WAVError("cannot record to \(url.path)")
            }
        }
        if let failure { throw failure }
    }

    func write(_ frame: [Int16]) {
        let stop: Bool = armed.withLock { state in
            guard state != nil else { return false }
            try? state!.writer.append(frame)
            state!.samples += frame.count
            let energy = frame.reduce(0.0) { $0 + Double($1) * Double($1) }
            if (energy / Double(max(1, frame.count))).squareRoot() > Self.silenceLevel {
                state!.lastVoice = state!.samples
                state!.silentFrames = 0
            } else {
                state!.silentFrames += 1
            }
            return state!.silentFrames >= silenceFrames || state!.samples >= maxSamples
        }
        if stop { stopped() }
    }

    /// Stops and closes the file, cut to half a second after the last voice; the seconds kept
    /// (nil if it was not recording).
    func finish(trimSilence: Bool) -> (url: URL, seconds: Double)? {
        let closed: (URL, Int)? = armed.withLock { state in
            guard let current = state else { return nil }
            state = nil
            try? current.writer.close()
            let keep = trimSilence ? min(current.samples, current.lastVoice + 4000) : current.samples
            return (current.writer.url, keep)
        }
        guard let (url, keep) = closed else { return nil }
        if truncate(url.path, off_t(44 + keep * 2)) == 0 { try? WAV.repairSizes(at: url) }
        return (url, Double(keep) / 8000)
    }

    func finish() throws {}
}

/// Turns what the dialogue says into audio: prompts, numbers, digits, dates, greetings, messages.
struct VoicemailVoice: Sendable {
    let prompts: Prompts
    let store: MailboxStore
    let calendar: Calendar
    let now: @Sendable () -> Double

    static let beep: [Int16] = (0..<2400).map { i in
        let edge = min(Double(i), Double(2400 - i), 160) / 160
        return Int16((sin(2 * Double.pi * 880 * Double(i) / 8000) * 9000 * edge).rounded())
    }
    static let gap = [Int16](repeating: 0, count: 800)

    func samples(_ sounds: [VoicemailSound]) -> [Int16] {
        sounds.flatMap { sound -> [Int16] in
            switch sound {
            case .prompt(let name): return prompts.play([name])
            case .digits(let digits): return prompts.play(digits.compactMap(Self.digitPrompt))
            case .number(let n): return prompts.play(Self.numberPrompts(n))
            case .beep: return Self.gap + Self.beep
            case .message(let id): return Self.gap + ((try? store.audio(id)) ?? []) + Self.gap
            case .greeting(let mailbox, let greeting):
                if let recorded = store.greeting(mailbox, greeting) { return recorded }
                let name = store.greeting(mailbox, .name)
                let who = name ?? prompts.play(["vm-person-at-extension"] + mailbox.compactMap(Self.digitPrompt))
                return who + prompts.play([greeting == .busy ? "vm-is-busy" : "vm-is-unavailable", "vm-leave-message"])
            case .receivedAt(let time): return prompts.play(dayAndTime(time))
            }
        }
    }

    static func digitPrompt(_ digit: Character) -> String? {
        switch digit {
        case "0": return "n0"
        case "*": return "vm-star"
        case "#": return "vm-pound"
        default: return digit.wholeNumberValue.map { "n\($0)" }
        }
    }

    static func numberPrompts(_ n: Int) -> [String] {
        if n == 0 { return ["n0"] }
        return Prompts.number(n) ?? String(n).compactMap(digitPrompt)
    }

    /// "today at fourteen thirty", "yesterday at nine oh five", "monday at …".
    func dayAndTime(_ time: Double) -> [String] {
        let date = Date(timeIntervalSince1970: time), today = Date(timeIntervalSince1970: now())
        var words: [String]
        if calendar.isDate(date, inSameDayAs: today) {
            words = ["vm-today"]
        } else if let yesterday = calendar.date(byAdding: .day, value: -1, to: today), calendar.isDate(date, inSameDayAs: yesterday) {
            words = ["vm-yesterday"]
        } else {
            let days = ["vm-sunday", "vm-monday", "vm-tuesday", "vm-wednesday", "vm-thursday", "vm-friday", "vm-saturday"]
            words = [days[(calendar.component(.weekday, from: date) - 1) % 7]]
        }
        let hour = calendar.component(.hour, from: date), minute = calendar.component(.minute, from: date)
        words += ["vm-at"] + Self.numberPrompts(hour)
        switch minute {
        case 0: words.append("vm-oclock")
        case 1...9: words += ["vm-oh", "n\(minute)"]
        default: words += Self.numberPrompts(minute)
        }
        return words
    }
}

/// One voicemail call: feeds the dialogue what happens and runs what it says.
actor VoicemailCall {
    enum Input: Sendable {
        case event(VoicemailMachine.Event)
        case played(Int)
        case timer(Int)
    }

    private var machine: VoicemailMachine
    private let context: VoicemailContext
    private let voice: VoicemailVoice
    let player: PromptPlayer
    let recorder: VoicemailRecorder
    private let inputs: AsyncStream<Input>
    private let input: AsyncStream<Input>.Continuation
    private var generation = 0
    private var timerGeneration = 0
    private var timer: Task<Void, Never>?
    /// Ends a recording at its maximum length even when the caller's RTP stops coming (the
    /// recorder counts only the frames that arrive).
    private var recordingLimit: Task<Void, Never>?
    private var recordingPurpose: VoicemailMachine.Purpose?
    private var stoppedBySilence = false
    private let caller: String
    private let callerName: String?
    private let logger = Logger(label: "holdfast.voicemail")
    /// Ends the call (a BYE from the service).
    private let hangUp: @Sendable () async -> Void
    var state: VoicemailMachine.State { machine.state }

    init(mode: VoicemailMachine.Mode, caller: String, callerName: String?, context: VoicemailContext, prompts: Prompts,
         hangUp: @escaping @Sendable () async -> Void) {
        machine = VoicemailMachine(mode)
        self.context = context
        self.caller = caller
        self.callerName = callerName
        self.hangUp = hangUp
        voice = VoicemailVoice(prompts: prompts, store: context.store, calendar: .current, now: { Date().timeIntervalSince1970 })
        let (inputs, input) = AsyncStream<Input>.makeStream()
        self.inputs = inputs
        self.input = input
        player = PromptPlayer(finished: { input.yield(.played($0)) })
        recorder = VoicemailRecorder(silenceSeconds: context.settings.silenceSeconds, maxSeconds: context.settings.maxSeconds,
                                     stopped: { input.yield(.event(.recordingStopped)) })
    }

    nonisolated func send(_ event: VoicemailMachine.Event) { input.yield(.event(event)) }

    /// Runs the dialogue until it ends (the caller hung up or it said goodbye).
    func run(digits: AsyncStream<Character>) async {
        let input = self.input
        let reader = Task { for await digit in digits { input.yield(.event(.digit(digit))) } }
        defer { reader.cancel() }
        perform(machine.handle(.start))
        for await next in inputs {
            switch next {
            case .event(let event):
                if event == .recordingStopped { stoppedBySilence = true }
                perform(machine.handle(event))
            case .played(let done) where done == generation:
                perform(machine.handle(.played))
            case .timer(let fired) where fired == timerGeneration:
                perform(machine.handle(.timeout))
            default:
                break
            }
            if machine.state == .ended { break }
        }
        timer?.cancel()
        recordingLimit?.cancel()
        input.finish()
    }

    private func perform(_ actions: [VoicemailMachine.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: VoicemailMachine.Action) {
        switch action {
        case .play(let sounds):
            generation += 1
            player.play(voice.samples(sounds), generation: generation)
        case .stopPlaying:
            generation += 1
            player.stop()
        case .startTimer(let seconds):
            timer?.cancel()
            timerGeneration += 1
            let fired = timerGeneration, input = self.input
            timer = Task {
                try? await Task.sleep(for: .seconds(seconds))
                if !Task.isCancelled { input.yield(.timer(fired)) }
            }
        case .cancelTimer:
            timer?.cancel()
            timerGeneration += 1
        case .record(let purpose):
            startRecording(purpose)
        case .stopRecording:
            send(.recorded(kept: finishRecording()))
        case .checkPIN(let mailbox, let pin):
            guard !context.pinGuard.isLocked(mailbox) else {
                // Locked by wrong PINs over many calls: no PIN opens it now, right or wrong.
                logger.warning("voicemail PIN refused: the mailbox is locked", metadata: ["mailbox": "\(mailbox)", "caller": "\(caller)"])
                send(.pinChecked(false))
                return
            }
            let good = context.store.verifyPIN(mailbox, pin, configured: context.pins[mailbox])
            if good {
                context.pinGuard.succeeded(mailbox)
            } else if context.pinGuard.failed(mailbox) {
                logger.warning("voicemail mailbox locked for wrong PINs", metadata: ["mailbox": "\(mailbox)", "caller": "\(caller)",
                                                                                   "failures": "\(context.pinGuard.limit)"])
                context.securityEvent(mailbox, caller, Int(context.pinGuard.window))
            }
            send(.pinChecked(good))
        case .loadMessages(let mailbox):
            send(.messages(context.store.messages(mailbox)))
        case .markHeard(let id):
            context.store.move(id, to: .old)
        case .save(let id):
            context.store.move(id, to: .saved)
        case .delete(let id):
            context.store.delete(id)
        case .setPIN(let pin):
            if let mailbox = machine.mailbox {
                do { try context.store.setPIN(mailbox, pin) } catch { logger.error("PIN not changed", metadata: ["mailbox": "\(mailbox)", "error": "\(error)"]) }
            }
        case .pinFailuresExceeded(let mailbox):
            logger.warning("voicemail PIN failed three times", metadata: ["mailbox": "\(mailbox)", "caller": "\(caller)"])
            context.securityEvent(mailbox, caller, 0)
        case .hangUp:
            let hangUp = self.hangUp
            Task { await hangUp() }
        }
    }

    private func startRecording(_ purpose: VoicemailMachine.Purpose) {
        guard let mailbox = machine.mailbox else { return }
        do {
            let url = try context.store.recordingURL(mailbox: mailbox, caller: purpose == .message ? caller : "greeting", at: Date().timeIntervalSince1970)
            try recorder.arm(url)
            recordingPurpose = purpose
            stoppedBySilence = false
            let input = self.input, limit = context.settings.maxSeconds + 2
            recordingLimit?.cancel()
            recordingLimit = Task {
                try? await Task.sleep(for: .seconds(limit))
                if !Task.isCancelled { input.yield(.event(.recordingStopped)) }
            }
        } catch {
            logger.error("recording cannot start", metadata: ["mailbox": "\(mailbox)", "error": "\(error)"])
            send(.recordingStopped)
        }
    }

    /// Closes the recording and keeps it (a message, or a greeting) when long enough.
    private func finishRecording() -> Bool {
        recordingLimit?.cancel()
        guard let purpose = recordingPurpose, let mailbox = machine.mailbox, let (url, seconds) = recorder.finish(trimSilence: stoppedBySilence) else { return false }
        recordingPurpose = nil
        let minimum = purpose == .message ? context.settings.minSeconds : 1
        guard seconds >= minimum else {
            try? FileManager.default.removeItem(at: url)
            return false
        }
        do {
            switch purpose {
            case .message:
                let message = try context.store.deposit(recording: url, mailbox: mailbox, caller: caller, callerName: callerName,
                                                        receivedAt: Date().timeIntervalSince1970, seconds: seconds)
                logger.info("message left", metadata: ["mailbox": "\(mailbox)", "caller": "\(caller)", "seconds": "\(seconds)", "id": "\(message.id)"])
            case .greeting(let greeting):
                try context.store.setGreeting(mailbox, greeting, recording: url)
            }
            return true
        } catch {
            logger.error("recording not kept", metadata: ["mailbox": "\(mailbox)", "error": "\(error)"])
            try? FileManager.default.removeItem(at: url)
            return false
        }
    }
}
