// Pending timers as one value: a binary min-heap of deadlines with lazy cancellation. The stack
// sleeps once, until the earliest deadline, instead of keeping one sleeping task per timer (each
// of which costs a task, a kernel timer and a thread wake-up). Pure: deadlines are durations on
// whatever clock the owner keeps.

public struct TimerQueue<Key: Hashable & Sendable>: Sendable {
    /// Plain numbers, so moving entries around the heap copies no key.
    private struct Entry: Sendable {
        var deadline: Duration
        var sequence: UInt64
        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private var heap: [Entry] = []
    /// The live schedule of each key, and the key of each live schedule: a heap entry whose
    /// sequence is not in `keys` was replaced or cancelled.
    private var live: [Key: UInt64] = [:]
    private var keys: [UInt64: Key] = [:]
    private var nextSequence: UInt64 = 0

    public init() {}

    /// Timers scheduled and not yet fired or cancelled.
    public var count: Int { live.count }

    /// Schedules `key` at `deadline`, replacing its earlier schedule if any.
    public mutating func schedule(_ key: Key, at deadline: Duration) {
        nextSequence += 1
        if let previous = live.updateValue(nextSequence, forKey: key) { keys[previous] = nil }
        keys[nextSequence] = key
        heap.append(Entry(deadline: deadline, sequence: nextSequence))
        siftUp(heap.count - 1)
    }

    /// Cancels `key`; true if it was scheduled.
    @discardableResult
    public mutating func cancel(_ key: Key) -> Bool {
        guard let sequence = live.removeValue(forKey: key) else { return false }
        keys[sequence] = nil
        return true
    }

    public func isScheduled(_ key: Key) -> Bool { live[key] != nil }

    /// The earliest live deadline.
    public mutating func nextDeadline() -> Duration? {
        dropStaleHead()
        return heap.first?.deadline
    }

    /// The earliest live timer whose deadline is at or before `now`, removed (deadline order; ties
    /// in scheduling order).
    public mutating func popDue(now: Duration) -> Key? {
        dropStaleHead()
        guard let head = heap.first, head.deadline <= now else { return nil }
        removeHead()
        guard let key = keys.removeValue(forKey: head.sequence) else { return nil }
        live[key] = nil
        return key
    }

    private mutating func dropStaleHead() {
        while let head = heap.first, keys[head.sequence] == nil { removeHead() }
        // Many cancelled timers far in the future (Timer B, F, H) would otherwise pile up.
        if heap.count > 64, heap.count > 4 * live.count { compact() }
    }

    private mutating func compact() {
        heap = heap.filter { keys[$0.sequence] != nil }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    private mutating func removeHead() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
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
