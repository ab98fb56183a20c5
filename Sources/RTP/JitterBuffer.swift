// An adaptive jitter buffer with packet-loss concealment: packets are ordered by sequence,
// played out after a delay that follows the measured jitter, late packets are dropped and
// counted, and missing frames are concealed (last frame repeated and faded, then silence).

public struct JitterBuffer: Sendable {
    public struct Statistics: Sendable, Equatable {
        public var received = 0
        public var played = 0
        /// Arrived after their play-out time.
        public var late = 0
        public var duplicates = 0
        /// Frames filled in by concealment (lost or not yet arrived).
        public var concealed = 0
        /// Current target delay in frames (20 ms each).
        public var targetDelayFrames = 0
        public var overflowDrops = 0
    }

    public private(set) var statistics = Statistics()
    public var minimumDelayFrames: Int
    public var maximumDelayFrames: Int
    public let capacity: Int
    private var frames: [UInt16: [Int16]] = [:]
    /// The sequence number due next at play-out.
    private var nextSequence: UInt16?
    private var started = false
    private var lastFrame: [Int16]?
    private var concealedRun = 0
    private var jitterFrames = 0.0

    public init(minimumDelayFrames: Int = 2, maximumDelayFrames: Int = 10, capacity: Int = 50) {
        self.minimumDelayFrames = minimumDelayFrames
        self.maximumDelayFrames = maximumDelayFrames
        self.capacity = capacity
        statistics.targetDelayFrames = minimumDelayFrames
    }

    /// Adds a decoded frame; `jitter` is the current interarrival jitter in samples (RFC 3550).
    public mutating func put(sequence: UInt16, frame: [Int16], jitter: UInt32 = 0) {
        statistics.received += 1
        // Target delay: enough frames to cover about three times the jitter (adapts both ways).
        jitterFrames = Double(jitter) / 160
        statistics.targetDelayFrames = max(minimumDelayFrames, min(maximumDelayFrames, Int((3 * jitterFrames).rounded(.up)) + 1))
        if let next = nextSequence, started {
            let behind = next &- sequence
            if behind > 0, behind < 0x8000 {
                statistics.late += 1
                return
            }
        }
        if frames[sequence] != nil {
            statistics.duplicates += 1
            return
        }
        if frames.count >= capacity {
            statistics.overflowDrops += 1
            return
        }
        frames[sequence] = frame
        if nextSequence == nil { nextSequence = sequence }
        if !started, let next = nextSequence, sequence &- next >= 0x8000 { nextSequence = sequence }  // earlier packet arrived first
    }

    public var bufferedFrames: Int { frames.count }

    /// The frame to play now (called every 20 ms by the play-out clock).
    public mutating func get() -> [Int16] {
        if !started {
            guard frames.count >= statistics.targetDelayFrames else { return silence }
            started = true
        }
        guard let next = nextSequence else { return silence }
        if let frame = frames.removeValue(forKey: next) {
            nextSequence = next &+ 1
            statistics.played += 1
            lastFrame = frame
            concealedRun = 0
            return frame
        }
        if frames.isEmpty {
            // Underrun: conceal, and re-buffer when the stream comes back.
            started = false
            statistics.concealed += 1
            return conceal()
        }
        nextSequence = next &+ 1
        statistics.concealed += 1
        return conceal()
    }

    /// Repeats the last frame with fading (−6 dB per frame) for up to five frames, then silence.
    private mutating func conceal() -> [Int16] {
        concealedRun += 1
        guard let last = lastFrame, concealedRun <= 5 else { return silence }
        let factor = 1.0 / Double(1 << concealedRun)
        return last.map { Int16(Double($0) * factor) }
    }

    private var silence: [Int16] { [Int16](repeating: 0, count: 160) }
}
