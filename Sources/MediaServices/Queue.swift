// The ACD queue's media service: a waiting caller hears music, and every announcement interval
// its position and expected wait ("You are caller number two. Your expected wait is about three
// minutes."). The call server says where the caller stands, in the INVITE (a header) and as it
// changes (INFO), in one format both ends share.

import Audio
import Foundation
import SIPMessage
import Synchronization

/// Where a waiting caller stands: its position on the path, the wait the call server expects
/// for it from now, and how often it is announced.
public struct QueueStatus: Sendable, Equatable {
    public var position: Int
    /// Seconds from now, nil while the path has no answered calls to expect from.
    public var expectedWait: Int?
    /// Seconds between announcements.
    public var interval: Int

    public init(position: Int, expectedWait: Int?, interval: Int) {
        self.position = position
        self.expectedWait = expectedWait
        self.interval = interval
    }

    /// On the service's INVITE.
    public static let header = HeaderName("X-Holdfast-Queue")
    /// The body of an INFO that brings a new status.
    public static let contentType = MediaType(type: "application", subtype: "x-holdfast-queue")

    /// `position=2;wait=45;interval=30` (`wait` left out when unknown).
    public var text: String {
        var parts = ["position=\(position)"]
        if let expectedWait { parts.append("wait=\(expectedWait)") }
        parts.append("interval=\(interval)")
        return parts.joined(separator: ";")
    }

    /// Reads `text`; nil unless position and interval are whole numbers in range.
    public init?(parsing text: String) {
        var fields: [String: Int] = [:]
        for part in text.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, let value = Int(pair[1]), value >= 0 else { return nil }
            fields[pair[0]] = value
        }
        guard let position = fields["position"], position >= 1, let interval = fields["interval"], (1...3600).contains(interval) else { return nil }
        self.init(position: position, expectedWait: fields["wait"], interval: interval)
    }

    /// What a caller hears: position (1–99), then the expected wait in whole minutes rounded up,
    /// or "less than one minute".
    public func phrase(waited seconds: Int = 0) -> [String] {
        var phrase: [String] = []
        if let number = Prompts.number(position) { phrase += ["caller-number"] + number }
        if let expectedWait {
            let left = max(0, expectedWait - seconds)
            let minutes = (left + 59) / 60
            if left < 60 {
                phrase.append("less-than-a-minute")
            } else if let number = Prompts.number(minutes) {
                phrase += ["expected-wait"] + number + [minutes == 1 ? "minute" : "minutes"]
            }
        }
        return phrase
    }
}

/// What a waiting caller hears, frame by frame: a welcome and its position at once, music, and its
/// position again every interval, the music taking up where it left off. A plain value; time is
/// the frames it has played.
public struct QueueAnnouncer: Sendable {
    let prompts: Prompts
    let music: [Int16]
    private var musicAt = 0
    private(set) var status: QueueStatus
    /// Frames since the status last changed (the expected wait counts down from it).
    private var framesSinceStatus = 0
    private var framesToAnnouncement = 0
    private var speaking: [Int16] = []
    private var speakingAt = 0
    private var welcomed = false
    /// How many announcements have started.
    public private(set) var announcements = 0

    public init(prompts: Prompts, music: [Int16], status: QueueStatus) {
        self.prompts = prompts
        self.music = music.isEmpty ? [0] : music
        self.status = status
    }

    /// A new status from the call server; the next announcement says it.
    public mutating func update(_ status: QueueStatus) {
        if status.interval != self.status.interval { framesToAnnouncement = min(framesToAnnouncement, status.interval * 50) }
        self.status = status
        framesSinceStatus = 0
    }

    /// Whether a prompt is playing now (rather than music).
    public var isSpeaking: Bool { speakingAt < speaking.count }

    public mutating func nextFrame() -> [Int16] {
        if !isSpeaking && framesToAnnouncement <= 0 {
            var phrase = welcomed ? [] : ["thank-you-for-holding"]
            welcomed = true
            phrase += status.phrase(waited: framesSinceStatus / 50)
            speaking = prompts.play(phrase)
            speakingAt = 0
            framesToAnnouncement = status.interval * 50
            if !speaking.isEmpty { announcements += 1 }
        }
        framesToAnnouncement -= 1
        framesSinceStatus += 1
        var frame = [Int16](repeating: 0, count: samplesPerFrame)
        for i in 0..<samplesPerFrame {
            if speakingAt < speaking.count {
                frame[i] = speaking[speakingAt]
                speakingAt += 1
            } else {
                frame[i] = music[musicAt]
                musicAt = (musicAt + 1) % music.count
            }
        }
        return frame
    }
}

/// The announcer as a media session's source, updated from the SIP side.
public final class QueueSource: AudioSource, Sendable {
    private let announcer: Mutex<QueueAnnouncer>

    public init(_ announcer: QueueAnnouncer) { self.announcer = Mutex(announcer) }

    public func nextFrame() -> [Int16] { announcer.withLock { $0.nextFrame() } }
    public func update(_ status: QueueStatus) { announcer.withLock { $0.update(status) } }
    public var status: QueueStatus { announcer.withLock { $0.status } }
    public var announcements: Int { announcer.withLock { $0.announcements } }
}
