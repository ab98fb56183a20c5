// The timer queue: deadline order, replacement, cancellation, and a randomised check against a
// plain list.

import SIPCore
import Testing

@Suite struct TimerQueueTests {
    @Test func timersComeDueInDeadlineOrderAndTiesInSchedulingOrder() {
        var queue = TimerQueue<String>()
        queue.schedule("B", at: .seconds(32))
        queue.schedule("A", at: .milliseconds(500))
        queue.schedule("trying", at: .milliseconds(200))
        queue.schedule("E", at: .milliseconds(500))
        let first = queue.nextDeadline()
        #expect(first == .milliseconds(200))
        let early = queue.popDue(now: .milliseconds(100))
        #expect(early == nil, "nothing is due before its deadline")
        var fired: [String] = []
        while let key = queue.popDue(now: .seconds(1)) { fired.append(key) }
        #expect(fired == ["trying", "A", "E"])
        let next = queue.nextDeadline()
        #expect(queue.count == 1 && next == .seconds(32))
    }

    @Test func rescheduleReplacesAndCancelRemoves() {
        var queue = TimerQueue<String>()
        queue.schedule("A", at: .milliseconds(500))
        queue.schedule("A", at: .seconds(1))  // retransmission interval doubled
        queue.schedule("B", at: .seconds(32))
        let replaced = queue.popDue(now: .milliseconds(700))
        #expect(replaced == nil, "the first schedule of A was replaced")
        let cancelled = queue.cancel("B"), again = queue.cancel("B")
        #expect(cancelled && !again, "cancelled once")
        let due = queue.popDue(now: .seconds(40)), after = queue.popDue(now: .seconds(40))
        #expect(due == "A" && after == nil)
        let none = queue.nextDeadline()
        #expect(queue.count == 0 && none == nil)
    }

    /// Deadline timers only: the heap.
    @Test func matchesAPlainListUnderRandomOperations() {
        Self.checkAgainstAPlainList(seed: 42, steps: 20_000, keys: 300) { queue, key, now, generator in
            let deadline = now + .milliseconds(Int(generator.next() % 40_000))
            queue.schedule(key, at: deadline)
            return deadline
        }
    }

    /// Timers scheduled by delay go to per-delay lanes; mixed with deadline timers, replaced and
    /// cancelled at random, they must still fire exactly as a plain sorted list says.
    @Test func lanesMatchAPlainListUnderRandomOperations() {
        let delays: [Duration] = [.milliseconds(200), .milliseconds(500), .seconds(1), .seconds(4), .seconds(5), .seconds(32)]
        Self.checkAgainstAPlainList(seed: 7, steps: 30_000, keys: 500) { queue, key, now, generator in
            guard generator.next() % 3 != 0 else {
                let deadline = now + .milliseconds(Int(generator.next() % 40_000))
                queue.schedule(key, at: deadline)
                return deadline
            }
            let delay = delays[Int(generator.next() % UInt64(delays.count))]
            queue.schedule(key, after: delay, now: now)
            return now + delay
        }
    }

    /// Random schedules (by `schedule`, which returns the deadline it set), cancellations and
    /// clock steps; after each step what fires, the next deadline and the count match a plain list.
    static func checkAgainstAPlainList(
        seed: UInt64, steps: Int, keys: UInt64,
        schedule: (inout TimerQueue<Int>, Int, Duration, inout SplitMix) -> Duration
    ) {
        var generator = SplitMix(seed: seed)
        var queue = TimerQueue<Int>()
        var model: [Int: (deadline: Duration, sequence: Int)] = [:]
        var sequence = 0
        var now = Duration.zero
        for _ in 0..<steps {
            let key = Int(generator.next() % keys)
            switch generator.next() % 4 {
            case 0, 1:
                let deadline = schedule(&queue, key, now, &generator)
                sequence += 1
                model[key] = (deadline, sequence)
            case 2:
                let cancelled = queue.cancel(key)
                #expect(cancelled == (model.removeValue(forKey: key) != nil))
            default:
                now += .milliseconds(Int(generator.next() % 3_000))
                let expected = model.filter { $0.value.deadline <= now }
                    .sorted { ($0.value.deadline, $0.value.sequence) < ($1.value.deadline, $1.value.sequence) }.map(\.key)
                var fired: [Int] = []
                while let key = queue.popDue(now: now) { fired.append(key) }
                #expect(fired == expected)
                for key in expected { model[key] = nil }
                let next = queue.nextDeadline()
                #expect(next == model.values.map(\.deadline).min())
            }
            #expect(queue.count == model.count)
        }
    }
}

/// A small deterministic generator for the randomised test.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct BufferedSystemRandomTests {
    @Test func valuesDoNotRepeatAcrossRefills() {
        var generator = BufferedSystemRandom()
        let values = (0..<5_000).map { _ in generator.next() }  // ten refills of the pool
        #expect(Set(values).count == values.count, "64-bit values from the kernel never repeat in 5,000 draws")
        #expect(values.contains { $0 >> 63 == 1 } && values.contains { $0 >> 63 == 0 }, "the high bit varies")
    }
}
