// The event log alone: sequences, bounded history, resume and resync decisions.

import Wire
import TestSupport
import Foundation
import Testing
@testable import CallServer

@Suite struct EventLogTests {
    @Test func sequencesAreMonotonicAndHistoryIsBounded() {
        let log = EventLog(capacity: 3, epoch: "e1")
        for i in 1...5 { log.append("t", ["i": .int(Int64(i))]) }
        #expect(log.lastSequence == 5)
        let fromTwo = log.subscribe(after: 2, epoch: "e1")
        #expect(fromTwo.complete)
        #expect(fromTwo.replay.map(\.sequence) == [3, 4, 5])
        let fromOne = log.subscribe(after: 1, epoch: "e1")
        #expect(!fromOne.complete, "event 2 is no longer held: the consumer must resync")
        #expect(fromOne.replay.isEmpty)
        #expect(!log.subscribe(after: 9, epoch: "e1").complete, "a position beyond the log is from elsewhere")
        #expect(!log.subscribe(after: 4, epoch: "e0").complete, "a position from another epoch")
        #expect(log.subscribe(after: 5).replay.isEmpty)
    }

    @Test func historyIsTrimmedAQuarterAtATimeKeepingAtLeastTheCapacity() {
        let log = EventLog(capacity: 8, epoch: "e1")
        for i in 1...10 { log.append("t", ["i": .int(Int64(i))]) }
        #expect(log.subscribe(after: 0, epoch: "e1").replay.count == 10, "up to 1.25 × capacity is held")
        log.append("t", [:])  // the eleventh: trimmed back to the newest 8
        #expect(log.subscribe(after: 3, epoch: "e1").replay.map(\.sequence) == Array(4...11))
        #expect(!log.subscribe(after: 2, epoch: "e1").complete)
    }

    @Test func liveEventsFollowTheReplayWithoutGapOrDouble() async {
        let log = EventLog(capacity: 100)
        log.append("a", [:])
        let subscription = log.subscribe(after: 0)
        log.append("b", [:])
        var iterator = subscription.live.makeAsyncIterator()
        #expect(subscription.replay.map(\.type) == ["a"])
        #expect(await iterator.next()?.type == "b")
    }

    @Test func eventsEncodeFlat() throws {
        let event = StreamEvent(sequence: 7, epoch: "e", type: "call.ended", time: Date(timeIntervalSince1970: 0), fields: ["call": .string("c1"), "cdr": .int(3)])
        let decoded = try JSONDecoder().decode(StreamEvent.self, from: JSONEncoder().encode(event))
        #expect(decoded == event)
        let object = try JSONDecoder().decode([String: JSONValue].self, from: JSONEncoder().encode(event))
        #expect(object["call"] == .string("c1") && object["sequence"] == .int(7))
    }
}
