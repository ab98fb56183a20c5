// The conference mix's cost: rooms of 8 participants, two of them talking, each participant
// giving its frame and taking what it hears every 20 ms (ConferenceMix, as the media services run
// it). The sockets and codecs of the participants' media sessions are measured apart (the G.711
// streams figure): a participant costs both.

import Audio
import Foundation
import MediaServices

enum ConferenceBench {
    static func mix() -> [Figure] {
        let perRoom = 8, talkers = 2, rooms = 125
        var mixes = (0..<rooms).map { _ in ConferenceMix() }
        let ids = (0..<perRoom).map { "p\($0)" }
        for r in mixes.indices { for id in ids { mixes[r].add(id) } }
        var tone = ToneSource(frequency: 500, amplitude: 3000)
        let voice = tone.nextFrame()
        let silence = [Int16](repeating: 0, count: samplesPerFrame)
        let clock = ContinuousClock()
        var periods = 0
        var sink = 0
        let start = clock.now
        while clock.now - start < .milliseconds(Int(benchSeconds * 1000)) {
            for r in mixes.indices {
                for (n, id) in ids.enumerated() { mixes[r].input(id, n < talkers ? voice : silence) }
                for id in ids { sink &+= Int(mixes[r].output(id).frame[7]) }
            }
            periods += 1
        }
        precondition(sink != Int.min)
        let elapsed = Double((clock.now - start) / .nanoseconds(1))
        let perParticipant = elapsed / Double(periods * rooms * perRoom)
        return [
            Figure(name: "conference mix, rooms of \(perRoom) with \(talkers) talkers: per participant per 20 ms", value: perParticipant.rounded(), unit: "ns", goal: "follows the talkers"),
            Figure(name: "conference mix alone: participants per core", value: (20_000_000 / perParticipant).rounded(.down), unit: "participants", goal: "≥ 1,000 (with sockets)"),
        ]
    }
}
