// Where a test tool's audio comes from (a WAV, a tone, silence) and goes to (a WAV, nowhere).

import Audio
import Foundation

/// Where a tool's audio comes from and goes to.
public struct AudioEnds: Sendable {
    public var play: URL?
    public var record: URL?
    public var tone: Double?

    public init(play: URL? = nil, record: URL? = nil, tone: Double? = nil) {
        self.play = play
        self.record = record
        self.tone = tone
    }

    /// Opens the source now, so an unsupported WAV is an error before any call starts.
    public func makeSource() throws -> any AudioSource {
        if let play { return LoopingSource(samples: try WAV.read(play)) }
        if let tone { return ToneSource(frequency: tone) }
        return SilenceSource()
    }

    public func makeSink() -> any AudioSink {
        if let record { return WAVFileSink(url: record) }
        return NullSink()
    }
}
