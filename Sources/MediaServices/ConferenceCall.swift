// One caller at a conference room: runs the entry dialogue (ConferenceEntry) with the caller's
// digits and a digit timeout, takes the caller into the room, and hangs up when refused or when
// the caller's RTP has stopped for the RTP timeout (a dead phone leaves the room by itself).

import Foundation
import Logging
import Media

actor ConferenceCall {
    enum Input: Sendable {
        case digit(Character)
        case played(Int)
        case timer(Int)
        case ended
    }

    /// Seconds without a digit that end what was keyed.
    static let digitTimeout = 5.0

    let room: ConferenceRoom
    let audio: ConferenceParticipantAudio
    let number: String
    let name: String?
    private var entry: ConferenceEntry
    private let prompts: Prompts
    private let inputs: AsyncStream<Input>
    private let input: AsyncStream<Input>.Continuation
    private var generation = 0
    private var timerGeneration = 0
    private var timer: Task<Void, Never>?
    /// Set when refused: hang up once this prompt has played.
    private var hangUpAfter: Int?
    private let hangUp: @Sendable () async -> Void
    private let logger = Logger(label: "holdfast.media")

    init(room: ConferenceRoom, id: String, number: String, name: String?, prompts: Prompts, hangUp: @escaping @Sendable () async -> Void) {
        self.room = room
        self.number = number
        self.name = name
        self.prompts = prompts
        self.hangUp = hangUp
        entry = ConferenceEntry(pin: room.configuration.pin)
        let (inputs, input) = AsyncStream.makeStream(of: Input.self)
        self.inputs = inputs
        self.input = input
        audio = ConferenceParticipantAudio(room: room, id: id, promptFinished: { input.yield(.played($0)) })
    }

    nonisolated var id: String { audio.id }

    nonisolated func end() { input.yield(.ended) }

    /// Runs the entry until the caller is in (then watches its RTP) or is refused.
    /// `held`: whether the caller holds the call (it sends no RTP then, and is not dead).
    func run(session: MediaSession, rtpTimeout: Double, held: @escaping @Sendable () async -> Bool = { false }) async {
        let input = self.input
        let reader = Task { for await digit in session.digits { input.yield(.digit(digit)) } }
        defer {
            reader.cancel()
            timer?.cancel()
            room.leave(id)
        }
        var watchdog: Task<Void, Never>?
        defer { watchdog?.cancel() }
        // Once in the room, the RTP watchdog runs.
        func watchOnceIn() {
            guard watchdog == nil, room.contains(id) else { return }
            timer?.cancel()
            watchdog = Task { [weak self] in await self?.watch(session, timeout: rtpTimeout, held: held) }
        }
        perform(entry.start())
        watchOnceIn()
        for await next in inputs {
            switch next {
            case .digit(let digit):
                perform(entry.digit(digit))
                if case .askingPIN = entry.state { restartTimer() }
            case .timer(let fired) where fired == timerGeneration:
                perform(entry.timeout())
                if case .askingPIN = entry.state { restartTimer() }
            case .played(let done) where done == hangUpAfter:
                let hangUp = self.hangUp
                Task { await hangUp() }
                return
            case .played(let done) where done == generation:
                // The PIN prompt has played: the digit timeout runs from here.
                if case .askingPIN = entry.state { restartTimer() }
            case .ended:
                return
            default:
                break
            }
            watchOnceIn()
        }
    }

    /// Hangs up a participant whose RTP has not arrived for `timeout` seconds.
    private func watch(_ session: MediaSession, timeout: Double, held: @Sendable () async -> Bool) async {
        var last = await session.counters.packetsReceived
        var quietSince = ContinuousClock.now
        let step = min(1.0, timeout / 4)
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(step))
            let now = await session.counters.packetsReceived
            if await held() {
                // On hold (inactive or sendonly towards us): silence is expected, the clock restarts.
                last = now
                quietSince = .now
            } else if now != last {
                last = now
                quietSince = .now
            } else if ContinuousClock.now - quietSince >= .seconds(timeout) {
                logger.notice("conference participant removed: no RTP", metadata: ["room": "\(room.configuration.number)", "participant": "\(id)",
                                                                                    "seconds": "\(timeout)"])
                room.leave(id)
                await hangUp()
                return
            }
        }
    }

    private func restartTimer() {
        timer?.cancel()
        timerGeneration += 1
        let fired = timerGeneration, input = self.input
        timer = Task {
            try? await Task.sleep(for: .seconds(Self.digitTimeout))
            if !Task.isCancelled { input.yield(.timer(fired)) }
        }
    }

    private func perform(_ actions: [ConferenceEntry.Action]) {
        for action in actions {
            switch action {
            case .play(let names):
                play(names)
            case .refuse(let names):
                play(names)
                hangUpAfter = generation
            case .join:
                do {
                    try room.join(id, number: number, name: name, prompts: prompts)
                    audio.entered()
                    logger.info("conference joined", metadata: ["room": "\(room.configuration.number)", "participant": "\(id)", "number": "\(number)"])
                } catch {
                    logger.info("conference refused", metadata: ["room": "\(room.configuration.number)", "participant": "\(id)", "reason": "\(error)"])
                    play([error == .locked ? "conf-locked" : "conf-full", "vm-goodbye"])
                    hangUpAfter = generation
                }
            }
        }
    }

    private func play(_ names: [String]) {
        generation += 1
        audio.prompts.play(prompts.play(names), generation: generation)
    }
}
