// Media figures: CPU for N simultaneous bidirectional G.711 streams at 50 packets/s on loopback,
// and the mixer's cost per party.

import Audio
import Foundation
import Media
import NIOPosix
import SDP

enum MediaBench {
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// Opens `streams` sessions in pairs (each pair one call, each session sending and receiving),
    /// runs them for `seconds`, and reports CPU as a share of one core.
    static func streams(_ streams: Int, seconds: Double) async throws -> [Figure] {
        let group = MultiThreadedEventLoopGroup.singleton
        var sessions: [MediaSession] = []
        for _ in 0..<(streams / 2) {
            var configuration = MediaSessionConfiguration(localAddress: "127.0.0.1", remoteAddress: "127.0.0.1", remotePort: 9, codec: .pcmu, telephoneEventPayloadType: 101)
            let b = try await MediaSession.open(group: group, configuration: configuration, source: ToneSource(frequency: 1000), sink: NullSink())
            configuration.remotePort = b.localPort
            let a = try await MediaSession.open(group: group, configuration: configuration, source: ToneSource(frequency: 440), sink: NullSink())
            try await b.update(remoteAddress: "127.0.0.1", remotePort: a.localPort, direction: .sendrecv)
            sessions += [a, b]
        }
        for session in sessions { await session.start() }
        try await Task.sleep(for: .seconds(1))  // settle
        let cpuStart = cpuSeconds()
        let wallStart = ContinuousClock.now
        var received = 0
        for session in sessions { received -= await session.counters.packetsReceived }
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        for session in sessions { received += await session.counters.packetsReceived }
        let cpu = cpuSeconds() - cpuStart
        let wall = Double((ContinuousClock.now - wallStart) / .milliseconds(1)) / 1000
        var lost = 0
        for session in sessions {
            lost += await session.counters.packetsLost
            await session.stop()
        }
        let share = cpu / wall
        return [
            Figure(name: "\(streams) bidirectional G.711 streams: CPU", value: (share * 1000).rounded() / 10, unit: "% of one core", goal: streams == 100 ? "< 50" : "-"),
            Figure(name: "CPU per stream", value: (share / Double(streams) * 100_000).rounded() / 1000, unit: "% of one core", goal: "-"),
            Figure(name: "\(streams) streams: packets received per second", value: (Double(received) / wall).rounded(), unit: "packets/s", goal: "\(streams * 50)"),
            Figure(name: "\(streams) streams: packets lost", value: Double(lost), unit: "packets", goal: "0"),
        ]
    }

    static func mixer() -> [Figure] {
        var figures: [Figure] = []
        let mixer = Mixer()
        for parties in [10, 100] {
            var tone = ToneSource(frequency: 500)
            let inputs = (0..<parties).map { _ in tone.nextFrame() }
            let clock = ContinuousClock()
            var frames = 0
            var sink = 0
            let start = clock.now
            while clock.now - start < .milliseconds(Int(benchSeconds * 1000)) {
                for _ in 0..<50 { sink &+= Int(mixer.mix(inputs)[0][0]); frames += 1 }
            }
            let elapsed = Double((clock.now - start) / .nanoseconds(1))
            precondition(sink != Int.min)
            let perPartyFrame = elapsed / Double(frames * parties)
            figures.append(Figure(name: "mixer, \(parties) parties: per party per 20 ms frame", value: (perPartyFrame).rounded(), unit: "ns", goal: "linear in N"))
        }
        return figures
    }
}
