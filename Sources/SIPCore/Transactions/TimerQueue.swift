// Pending timers as one value, so the stack sleeps once, until the earliest deadline, instead of
// keeping one sleeping task per timer. Pure: deadlines are durations on whatever clock the owner
// keeps.
//
// Most SIP timers are scheduled with one of a few fixed delays (T1 and its doublings, T4, 64·T1,
// the 200 ms before 100 Trying). Timers scheduled with `schedule(_:after:now:)` go to a FIFO lane
// per delay: with the clock moving forward, a lane is already in deadline order, so scheduling and
// firing cost O(1) instead of a heap's O(log n) over tens of thousands of pending timers. Any other
// deadline goes to a binary min-heap. Cancellation is lazy in both: an entry whose sequence is no
// longer live is skipped when it comes up.

/// A scheduled deadline; the sequence orders ties and identifies the schedule.
@usableFromInline
struct TimerEntry: Sendable {
    @usableFromInline var deadline: Duration
    @usableFromInline var sequence: UInt64

    @inlinable init(deadline: Duration, sequence: UInt64) {
        self.deadline = deadline
        self.sequence = sequence
    }

    @inlinable func precedes(_ other: TimerEntry) -> Bool {
        deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
    }
}

/// Entries of one delay, in deadline order: an array read from `head`, compacted as it drains.
@usableFromInline
struct TimerLane: Sendable {
    @usableFromInline let delay: Duration
    @usableFromInline var entries: [TimerEntry] = []
    @usableFromInline var head = 0

    @inlinable init(delay: Duration) { self.delay = delay }

    @inlinable var first: TimerEntry? { head < entries.count ? entries[head] : nil }

    @inlinable mutating func removeFirst() {
        head += 1
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024, head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}

public struct TimerQueue<Key: Hashable & Sendable>: Sendable {
    @usableFromInline var heap: [TimerEntry] = []
    @usableFromInline var lanes: [TimerLane] = []
    /// The live schedule of each key, and the key of each live schedule: an entry whose sequence
    /// is not in `keys` was replaced or cancelled.
    @usableFromInline var live: [Key: UInt64] = [:]
    @usableFromInline var keys: [UInt64: Key] = [:]
    @usableFromInline var nextSequence: UInt64 = 0

    public init() {}

    /// Timers scheduled and not yet fired or cancelled.
    @inlinable public var count: Int { live.count }

    /// Schedules `key` at `deadline`, replacing its earlier schedule if any.
    @inlinable public mutating func schedule(_ key: Key, at deadline: Duration) {
        heapPush(TimerEntry(deadline: deadline, sequence: register(key)))
    }

    /// Schedules `key` `delay` after `now`, replacing its earlier schedule if any. Timers of the
    /// same delay share a lane (see the top of this file).
    @inlinable public mutating func schedule(_ key: Key, after delay: Duration, now: Duration) {
        let entry = TimerEntry(deadline: now + delay, sequence: register(key))
        guard let index = lanes.firstIndex(where: { $0.delay == delay }) else {
            if lanes.count < 16 {
                var lane = TimerLane(delay: delay)
                lane.entries.append(entry)
                lanes.append(lane)
            } else {
                heapPush(entry)
            }
            return
        }
        // A clock that went backwards would break the lane's order: such an entry goes to the heap.
        if let last = lanes[index].entries.last, entry.deadline < last.deadline {
            heapPush(entry)
        } else {
            lanes[index].entries.append(entry)
        }
    }

    /// Cancels `key`; true if it was scheduled.
    @inlinable @discardableResult
    public mutating func cancel(_ key: Key) -> Bool {
        guard let sequence = live.removeValue(forKey: key) else { return false }
        keys[sequence] = nil
        return true
    }

    @inlinable public func isScheduled(_ key: Key) -> Bool { live[key] != nil }

    /// The earliest live deadline.
    @inlinable public mutating func nextDeadline() -> Duration? {
        earliest()?.entry.deadline
    }

    /// The earliest live timer whose deadline is at or before `now`, removed (deadline order; ties
    /// in scheduling order).
    @inlinable public mutating func popDue(now: Duration) -> Key? {
        guard let (entry, lane) = earliest(), entry.deadline <= now else { return nil }
        if let lane { lanes[lane].removeFirst() } else { heapRemoveHead() }
        guard let key = keys.removeValue(forKey: entry.sequence) else { return nil }
        live[key] = nil
        return key
    }

    // MARK: - Internals

    @inlinable mutating func register(_ key: Key) -> UInt64 {
        nextSequence += 1
        if let previous = live.updateValue(nextSequence, forKey: key) { keys[previous] = nil }
        keys[nextSequence] = key
        return nextSequence
    }

    /// The earliest live entry, and its lane (nil: the heap); stale heads are dropped on the way.
    @inlinable mutating func earliest() -> (entry: TimerEntry, lane: Int?)? {
        var best: (entry: TimerEntry, lane: Int?)?
        for index in lanes.indices {
            while let head = lanes[index].first, keys[head.sequence] == nil { lanes[index].removeFirst() }
            if let head = lanes[index].first, best.map({ head.precedes($0.entry) }) ?? true { best = (head, index) }
        }
        dropStaleHeapHead()
        if let head = heap.first, best.map({ head.precedes($0.entry) }) ?? true { best = (head, nil) }
        return best
    }

    @inlinable mutating func dropStaleHeapHead() {
        while let head = heap.first, keys[head.sequence] == nil { heapRemoveHead() }
        // Many cancelled timers far in the future would otherwise pile up.
        if heap.count > 64, heap.count > 4 * live.count {
            heap = heap.filter { keys[$0.sequence] != nil }
            for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
        }
    }

    @inlinable mutating func heapPush(_ entry: TimerEntry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    @inlinable mutating func heapRemoveHead() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
    }

    @inlinable mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < heap.count, heap[left].precedes(heap[first]) { first = left }
            if right < heap.count, heap[right].precedes(heap[first]) { first = right }
            if first == parent { return }
            heap.swapAt(parent, first)
            parent = first
        }
    }
}
