// Conference rooms: the configuration of a meet-me room, the mix (a plain value: frames in, each
// participant's frame out), the entry dialogue (PIN, full, locked; a plain value), and the room
// that joins them to the media sessions of its participants.
//
// The mix follows bridge_softmix and mod_conference: per 20 ms period the talkers' frames are summed
// once; a talker hears the sum less its own frame, and everyone not talking shares the one sum.
// Nobody talking, or one person in the room, costs no mixing at all.

import Audio
import ConfigFile
import Foundation
import Logging
import Media
import NIOCore
import Synchronization
import Wire

/// A meet-me room in the numbering plan (pbx.yaml `conferences:`).
public struct ConferenceRoomConfiguration: Codable, Sendable, Equatable {
    public var number: String
    public var name: String
    /// Asked by a prompt on entry, keyed and ended by `#` (three tries); nil: an open room.
    public var pin: String?
    public var maxParticipants: Int

    public static let defaultMaxParticipants = 32

    public init(number: String, name: String, pin: String? = nil, maxParticipants: Int = Self.defaultMaxParticipants) {
        self.number = number
        self.name = name
        self.pin = pin
        self.maxParticipants = maxParticipants
    }

    enum CodingKeys: String, CodingKey { case number, name, pin, maxParticipants }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        number = try c.decode(String.self, forKey: .number)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? "Conference \(number)"
        pin = try c.decodeIfPresent(String.self, forKey: .pin)
        maxParticipants = try c.decodeIfPresent(Int.self, forKey: .maxParticipants) ?? Self.defaultMaxParticipants
    }

    /// Errors name the key at fault (`key` is where the room sits, such as `pbx.yaml: conferences[1]`).
    public func validate(key: String) throws {
        guard !number.isEmpty, number.allSatisfy(\.isNumber) else { throw ConfigurationError("\(key).number must be digits") }
        if let pin {
            guard (4...12).contains(pin.count), pin.allSatisfy(\.isNumber) else { throw ConfigurationError("\(key).pin must be 4 to 12 digits") }
        }
        guard (2...256).contains(maxParticipants) else { throw ConfigurationError("\(key).maxParticipants must be 2–256") }
    }

    /// Every room valid, and no number twice.
    public static func validate(_ rooms: [ConferenceRoomConfiguration], key: String) throws {
        var seen: Set<String> = []
        for (index, room) in rooms.enumerated() {
            try room.validate(key: "\(key)[\(index)]")
            guard seen.insert(room.number).inserted else { throw ConfigurationError("\(key)[\(index)].number \(room.number) is used twice") }
        }
    }
}

// MARK: - The mix

/// The audio of one room, period by period. Frames from each participant go in as they arrive
/// (after the participant's jitter buffer); each participant asks for what it hears once per
/// period. The first participant to ask twice in a period starts the next one, so the room keeps
/// the pace of its participants' clocks and needs no clock of its own.
public struct ConferenceMix: Sendable {
    /// Mean absolute level above which a frame is speech (about −44 dBFS), and how many quiet
    /// frames a talker keeps talking (200 ms), so the flag does not flicker between words.
    public static let talkThreshold = 200, hangoverFrames = 10
    /// Frames waiting per participant at most: one that sends faster than the room drops its oldest.
    public static let queueLimit = 3

    struct Member: Sendable {
        var queue: [[Int16]] = []
        /// When each queued frame reached the room (nanoseconds of the room's clock).
        var arrivals: [UInt64] = []
        var muted = false
        var talking = false
        var quietFrames = 0
        var lastPeriod = -1
        /// Tones and prompts for this participant alone, over the mix.
        var overlay: [Int16] = []
        var overlayPosition = 0
    }

    private(set) var members: [String: Member] = [:]
    private(set) var period = 0
    /// This period's talkers' frames (as summed), and the sum.
    private var spoken: [String: [Int16]] = [:]
    /// When the oldest of this period's talkers' frames reached the room.
    private var spokenSince: UInt64?
    private var total = [Int32](repeating: 0, count: samplesPerFrame)
    /// The sum as everyone who is not talking hears it: built once per period.
    private var shared = [Int16](repeating: 0, count: samplesPerFrame)
    /// Periods that summed at least one talker (tests; the cost of the room).
    public private(set) var mixedPeriods = 0

    public init() {}

    public var count: Int { members.count }
    public func contains(_ id: String) -> Bool { members[id] != nil }
    public func isTalking(_ id: String) -> Bool { members[id]?.talking ?? false }
    public func isMuted(_ id: String) -> Bool { members[id]?.muted ?? false }

    /// A newcomer hears the current period first (it does not start the next one early).
    public mutating func add(_ id: String) { members[id] = Member(lastPeriod: period - 1) }
    public mutating func remove(_ id: String) { members[id] = nil; spoken[id] = nil }
    public mutating func setMuted(_ id: String, _ muted: Bool) { members[id]?.muted = muted }

    /// Plays `samples` to one participant (a prompt), or to all when `id` is nil (a tone).
    /// What waits to be heard over the mix is at most a second more than the newest sound: joins
    /// and leaves faster than their tones play do not pile up.
    public mutating func overlay(_ samples: [Int16], for id: String? = nil) {
        for key in id.map({ [$0] }) ?? Array(members.keys) {
            guard var member = members[key] else { continue }
            if id == nil, member.overlay.count - member.overlayPosition > 8000 { continue }
            member.overlay = Array(member.overlay[member.overlayPosition...]) + samples
            member.overlayPosition = 0
            members[key] = member
        }
    }

    /// Whether a participant still has a prompt or tone to hear.
    public func isPlaying(_ id: String) -> Bool { members[id].map { $0.overlayPosition < $0.overlay.count } ?? false }

    /// What a participant said in its last 20 ms, reaching the room at `time` (nanoseconds).
    public mutating func input(_ id: String, _ frame: [Int16], at time: UInt64 = 0) {
        guard var member = members[id] else { return }
        member.queue.append(frame)
        member.arrivals.append(time)
        if member.queue.count > Self.queueLimit {
            member.queue.removeFirst(member.queue.count - Self.queueLimit)
            member.arrivals.removeFirst(member.arrivals.count - Self.queueLimit)
        }
        members[id] = member
    }

    /// What a participant hears in the next 20 ms; the ids whose talking flag changed, if this
    /// started a new period; and when the oldest talker's frame in it reached the room (nil when it
    /// carries no one else's voice).
    public mutating func output(_ id: String) -> (frame: [Int16], talkingChanged: [String], carriedSince: UInt64?) {
        guard var member = members[id] else { return ([Int16](repeating: 0, count: samplesPerFrame), [], nil) }
        var changed: [String] = []
        if member.lastPeriod == period {
            changed = advance()
            member = members[id] ?? member
        }
        member.lastPeriod = period
        var frame: [Int16]
        if let own = spoken[id] {
            frame = [Int16](repeating: 0, count: samplesPerFrame)
            for i in 0..<samplesPerFrame { frame[i] = Int16(clamping: total[i] - Int32(own[i])) }
        } else {
            frame = shared
        }
        if member.overlayPosition < member.overlay.count {
            let count = min(samplesPerFrame, member.overlay.count - member.overlayPosition)
            for i in 0..<count { frame[i] = frame[i].addingSaturated(member.overlay[member.overlayPosition + i]) }
            member.overlayPosition += count
            if member.overlayPosition >= member.overlay.count { member.overlay = []; member.overlayPosition = 0 }
        }
        members[id] = member
        let others = spoken.count > (spoken[id] == nil ? 0 : 1)
        return (frame, changed, others ? spokenSince : nil)
    }

    /// The next period: one frame from each participant; the talkers' frames summed once.
    private mutating func advance() -> [String] {
        period += 1
        spoken.removeAll(keepingCapacity: true)
        spokenSince = nil
        var changed: [String] = []
        for (id, var member) in members {
            let frame = member.queue.isEmpty ? nil : member.queue.removeFirst()
            let arrival = member.arrivals.isEmpty ? 0 : member.arrivals.removeFirst()
            let loud = frame.map { Self.level($0) > Self.talkThreshold } ?? false
            let wasTalking = member.talking
            if loud {
                member.talking = true
                member.quietFrames = 0
            } else if member.talking {
                member.quietFrames += 1
                if member.quietFrames > Self.hangoverFrames { member.talking = false }
            }
            if member.talking != wasTalking { changed.append(id) }
            if member.talking, !member.muted, let frame, frame.count == samplesPerFrame {
                spoken[id] = frame
                spokenSince = min(spokenSince ?? arrival, arrival)
            }
            members[id] = member
        }
        // One person alone, or nobody talking: nothing to sum.
        guard members.count > 1, !spoken.isEmpty else {
            if total.contains(where: { $0 != 0 }) {
                total = [Int32](repeating: 0, count: samplesPerFrame)
                shared = [Int16](repeating: 0, count: samplesPerFrame)
            }
            if members.count <= 1 { spoken.removeAll() }
            return changed
        }
        mixedPeriods += 1
        for i in 0..<samplesPerFrame { total[i] = 0 }
        for frame in spoken.values {
            for i in 0..<samplesPerFrame { total[i] += Int32(frame[i]) }
        }
        for i in 0..<samplesPerFrame { shared[i] = Int16(clamping: total[i]) }
        return changed
    }

    /// Mean absolute level of a frame.
    static func level(_ frame: [Int16]) -> Int {
        guard !frame.isEmpty else { return 0 }
        return frame.reduce(0) { $0 + abs(Int($1)) } / frame.count
    }
}

extension Int16 {
    func addingSaturated(_ other: Int16) -> Int16 { Int16(clamping: Int32(self) + Int32(other)) }
}

// MARK: - Entry

/// The dialogue at a room's door: the PIN (keyed, ended by `#` or a digit timeout, three tries),
/// then in, or a prompt and goodbye when the room is full or locked.
public struct ConferenceEntry: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case askingPIN(tries: Int, keyed: String)
        case joining
        case refused
    }

    public enum Action: Sendable, Equatable {
        case play([String])
        /// Take the caller into the room (which may still find itself full or locked).
        case join
        /// Say the prompts, then hang up.
        case refuse([String])
    }

    public static let tries = 3
    public private(set) var state: State
    let pin: String?

    public init(pin: String?) {
        self.pin = pin
        state = pin == nil ? .joining : .askingPIN(tries: 0, keyed: "")
    }

    public mutating func start() -> [Action] {
        pin == nil ? [.join] : [.play(["conf-pin"])]
    }

    public mutating func digit(_ digit: Character) -> [Action] {
        guard case .askingPIN(let tries, let keyed) = state else { return [] }
        if digit == "#" { return submit(tries: tries, keyed: keyed) }
        guard digit.isNumber, keyed.count < 32 else { return [] }
        state = .askingPIN(tries: tries, keyed: keyed + String(digit))
        return []
    }

    /// No digit for the digit timeout: what was keyed is the PIN (nothing keyed: asked again).
    public mutating func timeout() -> [Action] {
        guard case .askingPIN(let tries, let keyed) = state else { return [] }
        return submit(tries: tries, keyed: keyed)
    }

    private mutating func submit(tries: Int, keyed: String) -> [Action] {
        if keyed == pin {
            state = .joining
            return [.join]
        }
        let used = tries + 1
        if used >= Self.tries {
            state = .refused
            return [.refuse(["conf-pin-wrong", "vm-goodbye"])]
        }
        state = .askingPIN(tries: used, keyed: "")
        return [.play(["conf-pin-wrong", "conf-pin"])]
    }
}

// MARK: - Tones

public enum ConferenceTones {
    /// Rising for a join, falling for a leave: two 100 ms notes.
    public static let join = tone([600, 900]), leave = tone([900, 600])

    static func tone(_ notes: [Double], amplitude: Double = 4000) -> [Int16] {
        notes.flatMap { note in
            (0..<800).map { i in
                let edge = min(Double(i), Double(800 - i), 80) / 80
                return Int16((sin(2 * Double.pi * note * Double(i) / 8000) * amplitude * edge).rounded())
            }
        }
    }
}

// MARK: - The room

/// A room with its participants, shared by their media sessions. The sessions of one room are
/// on one event loop and ticked by the room's one clock: one wake-up per 20 ms for the room, not
/// one per participant; an empty room runs no clock at all.
public final class ConferenceRoom: Sendable {
    /// Names the room on the call server's INVITE to the conference service.
    public static let header = "X-Holdfast-Conference"
    public let configuration: ConferenceRoomConfiguration
    /// Ticks the room's participants' media sessions (their sockets are on its event loop).
    public let clock: MediaClock
    struct Info: Sendable { var number: String; var name: String?; var joinedAt: Double }
    private struct State: Sendable {
        var mix = ConferenceMix()
        var info: [String: Info] = [:]
        var locked = false
        var latency = LatencyHistogram()
    }
    private let state = Mutex(State())
    /// Told of joins, leaves and talkers (outside the room's lock).
    let changed: @Sendable (ConferenceEvent) -> Void

    public enum ConferenceEvent: Sendable, Equatable {
        case joined(room: String, participant: String)
        case left(room: String, participant: String)
        case talking(room: String, participant: String, talking: Bool)
    }

    public enum JoinRefusal: Error, Sendable, Equatable { case full, locked, duplicate }

    init(_ configuration: ConferenceRoomConfiguration, clock: MediaClock, changed: @escaping @Sendable (ConferenceEvent) -> Void = { _ in }) {
        self.configuration = configuration
        self.clock = clock
        self.changed = changed
    }

    /// Takes a participant in: the others hear the join tone, the first hears it is alone.
    func join(_ id: String, number: String, name: String?, prompts: Prompts, now: Double = Date().timeIntervalSince1970) throws(JoinRefusal) {
        try state.withLock { state throws(JoinRefusal) in
            // One participant, one seat: a second call naming the same participant is refused.
            guard !state.mix.contains(id) else { throw .duplicate }
            guard !state.locked else { throw .locked }
            guard state.mix.count < configuration.maxParticipants else { throw .full }
            state.mix.overlay(ConferenceTones.join)
            state.mix.add(id)
            state.info[id] = Info(number: number, name: name, joinedAt: now)
            if state.mix.count == 1 { state.mix.overlay(prompts.play(["conf-only"]), for: id) }
        }
        changed(.joined(room: configuration.number, participant: id))
    }

    func leave(_ id: String) {
        let (was, latency) = state.withLock { state -> (Bool, LatencyHistogram?) in
            guard state.mix.contains(id) else { return (false, nil) }
            state.mix.remove(id)
            state.info[id] = nil
            state.mix.overlay(ConferenceTones.leave)
            guard state.mix.count == 0 else { return (true, nil) }
            // The room is empty: how it ran since it filled goes to the log, and starts again.
            defer { state.latency = LatencyHistogram() }
            return (true, state.latency)
        }
        if was { changed(.left(room: configuration.number, participant: id)) }
        if let latency { logFigures(latency) }
    }

    private func logFigures(_ latency: LatencyHistogram) {
        let clock = self.clock.figures
        Logger(label: "holdfast.media").info("conference room empty", metadata: [
            "room": "\(configuration.number)", "ticks": "\(clock.ticks)", "late-ticks": "\(clock.lateTicks)",
            "max-lag-us": "\(clock.maximumLagMicroseconds)", "max-tick-us": "\(clock.maximumTickMicroseconds)",
            "mixed-frames": "\(latency.count)", "mix-latency-p50-us": "\(latency.percentile(50))",
            "mix-latency-p99-us": "\(latency.percentile(99))", "mix-latency-max-us": "\(latency.maximum)",
        ])
    }

    /// How long talkers' frames waited in the room before being sent (since the room last emptied).
    public var mixingLatency: LatencyHistogram { state.withLock { $0.latency } }

    func input(_ id: String, _ frame: [Int16]) {
        let now = DispatchTime.now().uptimeNanoseconds
        state.withLock { $0.mix.input(id, frame, at: now) }
    }

    /// What `id` hears now; the time its talkers' frames waited in the room is measured.
    func output(_ id: String) -> [Int16] {
        let now = DispatchTime.now().uptimeNanoseconds
        let (frame, talkers) = state.withLock { state in
            let (frame, changed, since) = state.mix.output(id)
            if let since, since > 0, now >= since { state.latency.record(microseconds: Int((now - since) / 1000)) }
            return (frame, changed.map { ($0, state.mix.isTalking($0)) })
        }
        for (participant, talking) in talkers { changed(.talking(room: configuration.number, participant: participant, talking: talking)) }
        return frame
    }

    public func contains(_ id: String) -> Bool { state.withLock { $0.mix.contains(id) } }
    public var count: Int { state.withLock { $0.mix.count } }
    public var isLocked: Bool { state.withLock { $0.locked } }
    public func setLocked(_ locked: Bool) { state.withLock { $0.locked = locked } }

    /// Mutes (or unmutes) one participant; false if it is not in the room.
    public func setMuted(_ id: String, _ muted: Bool) -> Bool {
        state.withLock { state in
            guard state.mix.contains(id) else { return false }
            state.mix.setMuted(id, muted)
            return true
        }
    }

    public var status: ConferenceRoomStatus {
        state.withLock { state in
            let participants = state.info.map { id, info in
                ConferenceParticipant(id: id, number: info.number, name: info.name, talking: state.mix.isTalking(id),
                                      muted: state.mix.isMuted(id), joinedAt: info.joinedAt)
            }.sorted { ($0.joinedAt, $0.id) < ($1.joinedAt, $1.id) }
            return ConferenceRoomStatus(number: configuration.number, name: configuration.name, hasPIN: configuration.pin != nil,
                                        locked: state.locked, maxParticipants: configuration.maxParticipants, participants: participants)
        }
    }

    /// Periods in which talkers were summed (tests: an empty or one-person room sums nothing).
    public var mixedPeriods: Int { state.withLock { $0.mix.mixedPeriods } }
}

/// Durations in microseconds, counted in 100 µs buckets up to 200 ms (the last bucket holds
/// the rest): percentiles without keeping every sample, in constant memory.
public struct LatencyHistogram: Sendable, Equatable {
    public static let bucketMicroseconds = 100, buckets = 2_000
    private var counts = [Int](repeating: 0, count: LatencyHistogram.buckets)
    public private(set) var count = 0
    public private(set) var maximum = 0

    public init() {}

    public mutating func record(microseconds: Int) {
        let value = max(0, microseconds)
        counts[min(Self.buckets - 1, value / Self.bucketMicroseconds)] += 1
        count += 1
        maximum = max(maximum, value)
    }

    /// The upper edge of the bucket holding the `p`th percentile (0 when nothing was recorded).
    public func percentile(_ p: Double) -> Int {
        guard count > 0 else { return 0 }
        let rank = max(1, Int((p / 100 * Double(count)).rounded(.up)))
        var seen = 0
        for (bucket, n) in counts.enumerated() {
            seen += n
            if seen >= rank { return bucket == Self.buckets - 1 ? maximum : min(maximum, (bucket + 1) * Self.bucketMicroseconds) }
        }
        return maximum
    }
}

/// The rooms of a media host: the configured meet-me rooms, and ad-hoc rooms the call server opens
/// for conferences built from calls (gone when their last participant leaves).
public final class ConferenceRooms: Sendable {
    private let rooms: Mutex<[String: ConferenceRoom]>
    private let adHoc = Mutex<Set<String>>([])
    let changed: @Sendable (ConferenceRoom.ConferenceEvent) -> Void
    /// Each room's clock runs on one of these loops, in turn.
    private let group: any EventLoopGroup

    init(_ configured: [ConferenceRoomConfiguration], group: any EventLoopGroup, changed: @escaping @Sendable (ConferenceRoom.ConferenceEvent) -> Void) {
        self.changed = changed
        self.group = group
        rooms = Mutex(Dictionary(configured.map { ($0.number, ConferenceRoom($0, clock: MediaClock(eventLoop: group.next()), changed: changed)) },
                                 uniquingKeysWith: { a, _ in a }))
    }

    public subscript(_ number: String) -> ConferenceRoom? { rooms.withLock { $0[number] } }

    /// Every room, configured first (in number order), then ad-hoc ones.
    public var all: [ConferenceRoom] {
        let adHoc = self.adHoc.withLock { $0 }
        return rooms.withLock { Array($0.values) }.sorted { (adHoc.contains($0.configuration.number) ? 1 : 0, $0.configuration.number) < (adHoc.contains($1.configuration.number) ? 1 : 0, $1.configuration.number) }
    }

    /// A new ad-hoc room (no PIN, the default size), named for whoever built it.
    public func openAdHoc(name: String) -> ConferenceRoom {
        let number = "adhoc-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let room = ConferenceRoom(ConferenceRoomConfiguration(number: number, name: name), clock: MediaClock(eventLoop: group.next()), changed: changed)
        rooms.withLock { $0[number] = room }
        adHoc.withLock { _ = $0.insert(number) }
        return room
    }

    public func isAdHoc(_ number: String) -> Bool { adHoc.withLock { $0.contains(number) } }

    /// An ad-hoc room nobody is in any more is closed.
    public func closeIfEmpty(_ room: ConferenceRoom) {
        let number = room.configuration.number
        guard isAdHoc(number), room.count == 0 else { return }
        rooms.withLock { $0[number] = nil }
        adHoc.withLock { _ = $0.remove(number) }
    }
}

/// One participant's audio: before it is in the room, its prompts; in the room, what the room
/// gives it. What it sends goes to the room once it is in.
final class ConferenceParticipantAudio: AudioSource, AudioSink, Sendable {
    let room: ConferenceRoom
    let id: String
    let prompts: PromptPlayer
    private let inside = Atomic<Bool>(false)

    init(room: ConferenceRoom, id: String, promptFinished: @escaping @Sendable (Int) -> Void) {
        self.room = room
        self.id = id
        prompts = PromptPlayer(finished: promptFinished)
    }

    func entered() { inside.store(true, ordering: .releasing) }

    func nextFrame() -> [Int16] {
        inside.load(ordering: .acquiring) ? room.output(id) : prompts.nextFrame()
    }

    func write(_ frame: [Int16]) {
        if inside.load(ordering: .acquiring) { room.input(id, frame) }
    }

    func finish() throws {}
}
