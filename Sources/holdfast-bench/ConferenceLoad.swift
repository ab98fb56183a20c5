// Conference load on a `holdfast media` host (scripts/bench-conference starts it, pinned to a
// core of its own): rooms of 8 participants, 2 talking (a tone) and 6 silent, each a SIP call
// with G.711 at 20 ms from this process. Reports, per step, what the participants received
// against the 50 packets/s each should, the packets lost and late at them, and the host's CPU.
//   holdfast-bench conference --port P --pid PID --rooms 10,25,50 [--first 6000] [--seconds 10]

import Audio
import CallMedia
import Foundation
import Media
import NIOPosix
import SDP
import SIP
import SIPCore
import SIPMessage

enum ConferenceLoad {
    /// CPU seconds a process has used (utime + stime from /proc), clock ticks at 100 Hz.
    static func cpuSeconds(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3; utime 14 and stime 15 (1-based) are 11 and 12 here.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / 100
    }

    final class Delegate: UserAgentDelegate, Sendable {
        func incomingInvite(_ request: SIPRequest) async -> InviteDecision { .reject(status: 488, reason: "Not here", headers: []) }
        func callEstablished(_ dialog: Dialog, request: SIPRequest) async {}
        func callEnded(_ dialog: DialogID, byRemote: Bool) async {}
        func otherRequest(_ request: SIPRequest) async -> SIPResponse? { nil }
        func acknowledged(_ dialog: DialogID, request: SIPRequest) async {}
    }

    struct Participant {
        var session: MediaSession
        var dialog: DialogID
    }

    static func run(host: String, port: Int, pid: Int32, steps: [Int], firstRoom: Int, seconds: Double) async throws -> [Figure] {
        let group = MultiThreadedEventLoopGroup.singleton
        let transport = SIPTransport(group: group)
        try await transport.listen(.udp, host: host, port: 0)
        let ua = UserAgent(stack: SIPStack(transport: transport), identity: .init(user: "bench", domain: host), delegate: Delegate())
        await ua.start()
        let target = SIPTarget(kind: .udp, host: host, port: port)
        var figures: [Figure] = []
        for rooms in steps {
            var participants: [Participant] = []
            for room in 0..<rooms {
                // Each room's eight are ticked by one clock here too, as at the host: the generator
                // must not be what runs out of time first.
                let clock = MediaClock(eventLoop: group.next())
                for seat in 0..<8 {
                    let source: any AudioSource = seat < 2 ? ToneSource(frequency: 400 + Double(seat) * 300, amplitude: 3000) : SilenceSource()
                    let media = MediaSessionConfiguration(localAddress: host, remoteAddress: host, remotePort: 9, codec: .pcmu, telephoneEventPayloadType: nil)
                    let session = try await MediaSession.open(group: group, configuration: media, ports: 40000...59999, source: source, sink: NullSink(), clock: clock)
                    let local = MediaEndpoint(address: host, port: session.localPort)
                    let offer = OfferAnswer.offer(local, sessionID: UInt64(room * 8 + seat + 1), version: 1)
                    let leg = try await ua.call(SIPURI(user: "conference", host: host, port: port), via: target, body: Array(offer.text.utf8),
                                                headers: [(HeaderName("X-Holdfast-Conference"), String(firstRoom + room))])
                    try await session.update(try OfferAnswer.accept(answer: try SDPBody.parse(leg.remoteBody), to: offer))
                    await session.start()
                    participants.append(Participant(session: session, dialog: leg.dialog.id))
                }
            }
            try await Task.sleep(for: .seconds(2))  // settle: joins, the first one's prompt
            var before = (received: 0, lost: 0, late: 0, concealed: 0)
            for p in participants {
                let c = await p.session.counters
                before = (before.received + c.packetsReceived, before.lost + c.packetsLost, before.late + c.packetsLate, before.concealed + c.concealedFrames)
            }
            let cpuStart = cpuSeconds(pid: pid), wallStart = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            let cpu = cpuSeconds(pid: pid) - cpuStart
            let wall = Double((ContinuousClock.now - wallStart) / .milliseconds(1)) / 1000
            var after = (received: 0, lost: 0, late: 0, concealed: 0)
            for p in participants {
                let c = await p.session.counters
                after = (after.received + c.packetsReceived, after.lost + c.packetsLost, after.late + c.packetsLate, after.concealed + c.concealedFrames)
            }
            let n = participants.count
            let expected = Double(n) * 50 * wall
            let received = Double(after.received - before.received)
            figures += [
                Figure(name: "conference, \(n) participants (\(rooms) rooms of 8, 2 talkers): received / expected", value: (received / expected * 1000).rounded() / 10,
                       unit: "%", goal: "100"),
                Figure(name: "conference, \(n) participants: packets lost / late at the participants", value: Double(after.lost - before.lost + after.late - before.late),
                       unit: "packets", goal: "0"),
                Figure(name: "conference, \(n) participants: media host CPU", value: (cpu / wall * 1000).rounded() / 10, unit: "% of one core", goal: "< 100"),
                Figure(name: "conference, \(n) participants: media host CPU per participant", value: (cpu / wall / Double(n) * 100_000).rounded() / 1000,
                       unit: "% of one core", goal: "≤ 0.1 (1,000 per core)"),
            ]
            for p in participants {
                try? await ua.hangUp(p.dialog)
                await p.session.stop()
            }
            try await Task.sleep(for: .seconds(1))
        }
        await ua.stack.shutdown()
        return figures
    }
}
