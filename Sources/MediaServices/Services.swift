// The media services a call server reaches over SIP: each answers a call itself, by the user part
// of the Request-URI (sip:echo@host, sip:moh@host, sip:queue@host). Pure descriptions; the host
// runs them.

import Audio
import Foundation
import Synchronization

/// A service the call server can send a call (or a held party) to.
public enum MediaService: String, Sendable, CaseIterable, Codable {
    /// What the caller sends comes back (a new user checks their audio this way).
    case echo
    /// Music for a party on hold: sends only.
    case musicOnHold = "moh"
    /// A caller waiting on an ACD path: music with its position announced (Queue.swift).
    case queue
    /// Mailboxes: leaving a message, listening to them (Voicemail.swift).
    case voicemail
    /// Meet-me rooms (Conference.swift): the call server names the room in `ConferenceRoom.header`.
    case conference
    /// Says something and hangs up (a feature code's outcome): the prompts named in `Announcement.header`.
    case announce

    /// The services a number in the numbering plan may lead to (the queue is reached through an
    /// ACD path only, voicemail through its feature codes and forwarding, a conference through
    /// the rooms' numbers).
    public static var dialable: [MediaService] { allCases.filter { $0 != .queue && $0 != .voicemail && $0 != .conference && $0 != .announce } }

    /// Whether the service only sends (the far end's audio is not wanted).
    var sendsOnly: Bool { self != .echo && self != .voicemail && self != .conference }
}

/// What the announcement service says: prompt names, space-separated, in the INVITE's header
/// (`X-Holdfast-Announce: hotdesk-logged-in n2 n1 n0 n1`). Names the prompts do not have are
/// left out; at most `maxPrompts`.
public enum Announcement {
    public static let header = "X-Holdfast-Announce"
    public static let maxPrompts = 24

    public static func prompts(_ value: String?, known: Prompts) -> [String] {
        (value ?? "").split(separator: " ").map(String.init).filter { known.samples[$0] != nil }.prefix(maxPrompts).map { $0 }
    }
}

/// Source and sink at once: what the call brought in is played back out, 20 ms frames in order.
/// Holds at most `capacity` frames (the oldest go first), so a sender faster than our clock
/// cannot grow it.
public final class EchoLoop: AudioSource, AudioSink, Sendable {
    private let frames = Mutex<[[Int16]]>([])
    let capacity: Int

    public init(capacity: Int = 25) { self.capacity = capacity }

    public func nextFrame() -> [Int16] {
        frames.withLock { $0.isEmpty ? [Int16](repeating: 0, count: samplesPerFrame) : $0.removeFirst() }
    }

    public func write(_ frame: [Int16]) {
        frames.withLock { queue in
            queue.append(frame)
            if queue.count > capacity { queue.removeFirst(queue.count - capacity) }
        }
    }

    public func finish() throws {}
}

/// The tune played to a party on hold when no WAV is configured: a short phrase of soft tones
/// with rests, so it is plainly music and not a dial tone, and needs no file.
public enum DefaultMusic {
    /// Notes (Hz, 0 for a rest) of 250 ms each.
    static let phrase: [Double] = [523.25, 659.25, 783.99, 659.25, 587.33, 698.46, 880.0, 0, 493.88, 587.33, 783.99, 587.33, 523.25, 0, 0, 0]

    public static func samples(amplitude: Double = 5000) -> [Int16] {
        let perNote = 2000  // 250 ms at 8 kHz
        var out: [Int16] = []
        out.reserveCapacity(phrase.count * perNote)
        for note in phrase {
            for i in 0..<perNote {
                guard note > 0 else { out.append(0); continue }
                // A short fade in and out keeps the notes from clicking.
                let edge = min(Double(i), Double(perNote - i), 200) / 200
                out.append(Int16((sin(2 * Double.pi * note * Double(i) / 8000) * amplitude * edge).rounded()))
            }
        }
        return out
    }
}
