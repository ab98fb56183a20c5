// RTP packets, statistics, RTCP, DTMF and the jitter buffer.

import Testing
@testable import RTP

struct FixedGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state
    }
}

@Suite struct RTPPacketTests {
    @Test func roundTrips() throws {
        let packet = RTPPacket(marker: true, payloadType: 0, sequenceNumber: 65535, timestamp: 0xDEADBEEF, ssrc: 0x01020304, payload: [1, 2, 3])
        let parsed = try RTPPacket(parsing: packet.serialized())
        #expect(parsed == packet)
    }

    @Test(arguments: [
        ([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] as [UInt8], "version"),
        ([0x80, 0, 0] as [UInt8], "shorter"),
        ([0x8F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] as [UInt8], "CSRC"),
        ([0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9] as [UInt8], "padding"),
        ([0x80, 0xC8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] as [UInt8], "RTCP"),
    ])
    func malformedPacketsAreRejectedWithAReason(bytes: [UInt8], mention: String) {
        #expect { try RTPPacket(parsing: bytes) } throws: { ($0 as? RTPError)?.reason.contains(mention) == true }
    }

    @Test func sequencerAdvancesBy20msAndMarksTheFirstPacket() {
        var generator = FixedGenerator(state: 1)
        var sequencer = RTPSequencer(payloadType: 0, using: &generator)
        let a = sequencer.next(payload: [UInt8](repeating: 0xFF, count: 160), samples: 160)
        let b = sequencer.next(payload: [UInt8](repeating: 0xFF, count: 160), samples: 160)
        #expect(a.marker && !b.marker)
        #expect(b.sequenceNumber == a.sequenceNumber &+ 1)
        #expect(b.timestamp == a.timestamp &+ 160)
        #expect(sequencer.packetsSent == 2 && sequencer.octetsSent == 320)
    }
}

@Suite struct ReceptionStatisticsTests {
    func packet(_ seq: UInt16, _ ts: UInt32) -> RTPPacket {
        RTPPacket(payloadType: 0, sequenceNumber: seq, timestamp: ts, ssrc: 7, payload: [])
    }

    @Test func countsLossAcrossSequenceWrap() {
        var stats = ReceptionStatistics()
        var seq: UInt16 = 65530
        for i in 0..<20 {
            if i != 5 && i != 6 { stats.record(packet(seq, UInt32(i * 160)), arrival: Int64(i * 160)) }
            seq &+= 1
        }
        #expect(stats.packetsReceived == 18)
        #expect(stats.expected == 20)
        #expect(stats.cumulativeLost == 2)
        #expect(stats.extendedHighestSequence == 0x1_0000 + 13)
        #expect(stats.takeFractionLost() == UInt8((2 << 8) / 20))
        #expect(stats.takeFractionLost() == 0, "a new interval with no packets reports no loss")
    }

    @Test func jitterFollowsRFC3550() {
        var stats = ReceptionStatistics()
        // Arrivals alternate 0 and 80 samples late: |D| = 80 each time; J converges toward 80.
        for i in 0..<200 {
            stats.record(packet(UInt16(i), UInt32(i * 160)), arrival: Int64(i * 160 + (i % 2) * 80))
        }
        #expect(stats.jitter >= 75 && stats.jitter <= 80)
    }

    @Test func duplicatesAreNotCounted() {
        var stats = ReceptionStatistics()
        stats.record(packet(1, 0), arrival: 0)
        let accepted = stats.record(packet(1, 0), arrival: 0)
        #expect(!accepted)
        #expect(stats.duplicates == 1 && stats.packetsReceived == 1)
    }
}

@Suite struct RTCPTests {
    @Test func compoundReportRoundTrips() throws {
        let block = ReportBlock(ssrc: 9, fractionLost: 25, cumulativeLost: -3, extendedHighestSequence: 70000, jitter: 42, lastSenderReport: 1, delaySinceLastSenderReport: 2)
        let packets: [RTCPPacket] = [
            .senderReport(ssrc: 1, ntp: 0x0102_0304_0506_0708, rtpTimestamp: 160, packetCount: 50, octetCount: 8000, reports: [block]),
            .sourceDescription(ssrc: 1, cname: "holdfast@127.0.0.1"),
        ]
        #expect(try RTCPPacket.parseCompound(RTCPPacket.compound(packets)) == packets)
        let rr: [RTCPPacket] = [.receiverReport(ssrc: 2, reports: [block]), .bye(ssrc: 2)]
        #expect(try RTCPPacket.parseCompound(RTCPPacket.compound(rr)) == rr)
    }
}

@Suite struct DTMFTests {
    @Test func senderSendsGrowingDurationsThenThreeEnds() {
        var sender = DTMFSender()
        sender.enqueue("5")
        var ticks: [DTMFSender.Tick] = []
        while let tick = sender.tick() { ticks.append(tick) }
        #expect(ticks.first?.marker == true)
        #expect(ticks.map(\.event.duration) == [160, 320, 480, 640, 800, 800, 800, 800])
        #expect(ticks.suffix(3).allSatisfy { $0.event.end })
        #expect(ticks.dropLast(3).allSatisfy { !$0.event.end })
        #expect(ticks.allSatisfy { $0.event.event == 5 })
    }

    @Test func receiverReportsEachDigitOnceWithDuration() {
        var sender = DTMFSender()
        sender.enqueue("1#9")
        var receiver = DTMFReceiver()
        var digits: [DTMFReceiver.Digit] = []
        var timestamp: UInt32 = 1000
        var seq: UInt16 = 0
        for _ in 0..<100 {
            if let tick = sender.tick() {
                if tick.isNewEvent { timestamp += 1600 }
                let packet = RTPPacket(marker: tick.marker, payloadType: 101, sequenceNumber: seq, timestamp: timestamp, ssrc: 1, payload: tick.event.payload)
                digits += receiver.receive(packet)
                digits += receiver.receive(packet)  // duplicated on the wire
            }
            seq &+= 1
        }
        #expect(digits.map(\.character) == ["1", "#", "9"])
        #expect(digits.allSatisfy { $0.duration == 800 })
    }

    @Test func digitWhoseEndWasLostIsStillReported() {
        var receiver = DTMFReceiver()
        let start = RTPPacket(payloadType: 101, sequenceNumber: 1, timestamp: 100, ssrc: 1, payload: TelephoneEvent(event: 3, end: false, duration: 320).payload)
        let next = RTPPacket(payloadType: 101, sequenceNumber: 2, timestamp: 900, ssrc: 1, payload: TelephoneEvent(event: 4, end: false, duration: 160).payload)
        #expect(receiver.receive(start).isEmpty)
        #expect(receiver.receive(next).map(\.character) == ["3"])
        #expect(receiver.flush()?.character == "4")
    }

    @Test func infoBodiesRoundTrip() {
        #expect(DTMFRelay(body: "Signal=5\r\nDuration=160\r\n") == DTMFRelay(signal: "5", durationMilliseconds: 160))
        #expect(DTMFRelay(body: "Signal= #\nDuration= 250") == DTMFRelay(signal: "#", durationMilliseconds: 250))
        #expect(DTMFRelay(body: "Signal=x") == nil)
        #expect(DTMFRelay(signal: "*").body == "Signal=*\r\nDuration=160\r\n")
    }
}

@Suite struct JitterBufferTests {
    func frame(_ value: Int16) -> [Int16] { [Int16](repeating: value, count: 160) }

    @Test func reordersAndPlaysInSequence() {
        var buffer = JitterBuffer(minimumDelayFrames: 2)
        buffer.put(sequence: 11, frame: frame(11))
        buffer.put(sequence: 10, frame: frame(10))
        buffer.put(sequence: 12, frame: frame(12))
        #expect(buffer.get().first == 10)
        #expect(buffer.get().first == 11)
        #expect(buffer.get().first == 12)
        #expect(buffer.statistics.played == 3)
    }

    @Test func lossIsConcealedByFadingTheLastFrame() {
        var buffer = JitterBuffer(minimumDelayFrames: 1)
        buffer.put(sequence: 1, frame: frame(1000))
        buffer.put(sequence: 3, frame: frame(3000))
        #expect(buffer.get().first == 1000)
        #expect(buffer.get().first == 500, "frame 2 is concealed at half level")
        #expect(buffer.get().first == 3000)
        #expect(buffer.statistics.concealed == 1)
    }

    @Test func latePacketsAreDroppedAndCounted() {
        var buffer = JitterBuffer(minimumDelayFrames: 1)
        buffer.put(sequence: 5, frame: frame(5))
        buffer.put(sequence: 6, frame: frame(6))
        _ = buffer.get()
        _ = buffer.get()
        buffer.put(sequence: 4, frame: frame(4))
        #expect(buffer.statistics.late == 1)
    }

    @Test func delayGrowsWithJitter() {
        var buffer = JitterBuffer(minimumDelayFrames: 2, maximumDelayFrames: 10)
        buffer.put(sequence: 1, frame: frame(1), jitter: 0)
        #expect(buffer.statistics.targetDelayFrames == 2)
        buffer.put(sequence: 2, frame: frame(1), jitter: 480)
        #expect(buffer.statistics.targetDelayFrames == 10)
    }
}
