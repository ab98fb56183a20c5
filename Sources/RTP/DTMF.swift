// DTMF: RFC 4733 telephone-events (sender with the three end packets, receiver with
// deduplication and durations) and SIP INFO application/dtmf-relay bodies.

public enum DTMFDigit {
    static let characters: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D"]

    /// The RFC 4733 event code of a digit (0–9, * = 10, # = 11, A–D = 12–15).
    public static func event(for character: Character) -> UInt8? {
        characters.firstIndex(of: Character(character.uppercased())).map(UInt8.init)
    }

    public static func character(for event: UInt8) -> Character? {
        event < 16 ? characters[Int(event)] : nil
    }
}

/// The 4-byte telephone-event payload (RFC 4733 §2.3).
public struct TelephoneEvent: Sendable, Equatable {
    public var event: UInt8
    public var end: Bool
    public var volume: UInt8
    public var duration: UInt16

    public init(event: UInt8, end: Bool, volume: UInt8 = 10, duration: UInt16) {
        self.event = event
        self.end = end
        self.volume = volume
        self.duration = duration
    }

    public init(parsing payload: [UInt8]) throws(RTPError) {
        guard payload.count >= 4 else { throw RTPError("telephone-event payload of \(payload.count) bytes (needs 4)") }
        event = payload[0]
        end = payload[1] & 0x80 != 0
        volume = payload[1] & 0x3F
        duration = UInt16(payload[2]) << 8 | UInt16(payload[3])
    }

    public var payload: [UInt8] {
        [event, (end ? 0x80 : 0) | (volume & 0x3F), UInt8(duration >> 8), UInt8(duration & 0xFF)]
    }
}

/// Turns queued digits into telephone-event packets, one per 20 ms tick (RFC 4733 §2.5):
/// the first packet of an event has the marker bit, all share the event's start timestamp,
/// the duration grows each tick, and the end is sent three times.
public struct DTMFSender: Sendable {
    public struct Tick: Sendable, Equatable {
        public var event: TelephoneEvent
        public var marker: Bool
        /// Offset, in samples, of the event start from the tick at which the digit started.
        public var isNewEvent: Bool
    }

    /// Tone length (default 100 ms = 800 samples) and the silence between digits (in ticks).
    public var toneSamples: UInt16 = 800
    public var gapTicks = 3
    private var queue: [UInt8] = []
    private var current: (event: UInt8, duration: UInt16, endsSent: Int)?
    private var gap = 0

    public init() {}

    public mutating func enqueue(_ digits: String) {
        queue += digits.compactMap(DTMFDigit.event(for:))
    }

    public var isIdle: Bool { current == nil && queue.isEmpty && gap == 0 }

    /// What to send in this 20 ms slot instead of audio, or nil to send audio.
    public mutating func tick() -> Tick? {
        if var active = current {
            if active.duration < toneSamples {
                active.duration = min(toneSamples, active.duration + 160)
                current = active
                return Tick(event: TelephoneEvent(event: active.event, end: false, duration: active.duration),
                            marker: false, isNewEvent: false)
            }
            active.endsSent += 1
            current = active.endsSent >= 3 ? nil : active
            if current == nil { gap = gapTicks }
            return Tick(event: TelephoneEvent(event: active.event, end: true, duration: active.duration), marker: false, isNewEvent: false)
        }
        if gap > 0 {
            gap -= 1
            return nil
        }
        guard !queue.isEmpty else { return nil }
        let event = queue.removeFirst()
        current = (event, 160, 0)
        return Tick(event: TelephoneEvent(event: event, end: false, duration: 160), marker: true, isNewEvent: true)
    }
}

/// Reassembles telephone-event packets into digits, once each.
public struct DTMFReceiver: Sendable {
    public struct Digit: Sendable, Equatable {
        public var character: Character
        /// Duration in timestamp units (8 kHz samples).
        public var duration: UInt16
    }

    private var reportedTimestamps: [UInt32] = []
    private var pending: (timestamp: UInt32, event: UInt8, duration: UInt16)?

    public init() {}

    /// Feeds one telephone-event packet; returns the digits it completes (usually none or one).
    public mutating func receive(_ packet: RTPPacket) -> [Digit] {
        guard let event = try? TelephoneEvent(parsing: packet.payload), let character = DTMFDigit.character(for: event.event) else { return [] }
        if reportedTimestamps.contains(packet.timestamp) { return [] }  // end retransmissions
        var completed: [Digit] = []
        if let p = pending, p.timestamp != packet.timestamp {
            // A new event began before the previous one's end arrived (its end packets were lost).
            if let c = DTMFDigit.character(for: p.event) { completed.append(Digit(character: c, duration: p.duration)) }
            remember(p.timestamp)
            pending = nil
        }
        if event.end {
            remember(packet.timestamp)
            pending = nil
            completed.append(Digit(character: character, duration: event.duration))
        } else {
            pending = (packet.timestamp, event.event, max(event.duration, pending?.duration ?? 0))
        }
        return completed
    }

    /// A digit whose end never came, after the stream went quiet.
    public mutating func flush() -> Digit? {
        guard let p = pending else { return nil }
        pending = nil
        remember(p.timestamp)
        return DTMFDigit.character(for: p.event).map { Digit(character: $0, duration: p.duration) }
    }

    private mutating func remember(_ timestamp: UInt32) {
        reportedTimestamps.append(timestamp)
        if reportedTimestamps.count > 32 { reportedTimestamps.removeFirst() }
    }
}

/// The `application/dtmf-relay` body of SIP INFO: `Signal=5\r\nDuration=160\r\n` (milliseconds).
public struct DTMFRelay: Sendable, Equatable {
    public var signal: Character
    public var durationMilliseconds: Int

    public init(signal: Character, durationMilliseconds: Int = 160) {
        self.signal = signal
        self.durationMilliseconds = durationMilliseconds
    }

    public init?(body: String) {
        var signal: Character?
        var duration = 160
        for line in body.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: " \t") }
            guard parts.count == 2 else { continue }
            switch parts[0].lowercased() {
            case "signal":
                guard let c = parts[1].first, DTMFDigit.event(for: c) != nil || parts[1] == "10" || parts[1] == "11" else { return nil }
                signal = parts[1] == "10" ? "*" : parts[1] == "11" ? "#" : Character(c.uppercased())
            case "duration":
                duration = Int(parts[1]) ?? 160
            default:
                continue
            }
        }
        guard let signal else { return nil }
        self.signal = signal
        durationMilliseconds = duration
    }

    public var body: String { "Signal=\(signal)\r\nDuration=\(durationMilliseconds)\r\n" }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
