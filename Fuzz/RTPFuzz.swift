// libFuzzer entry point for RTP, RTCP and RFC 4733 parsing, compiled with Sources/RTP by
// scripts/fuzz. Properties: no input crashes any parser; an RTP packet that parses
// re-serializes to a packet that parses to the same header and payload; the jitter buffer
// takes any parsed packet.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    if let packet = try? RTPPacket(parsing: bytes) {
        guard let again = try? RTPPacket(parsing: packet.serialized()) else { fatalError("a parsed RTP packet does not re-parse") }
        precondition(again.sequenceNumber == packet.sequenceNumber && again.timestamp == packet.timestamp
                     && again.payload == packet.payload, "an RTP packet changed in a round trip")
        _ = try? TelephoneEvent(parsing: Array(packet.payload))
    }
    _ = try? RTCPPacket.parseCompound(bytes)
    _ = try? TelephoneEvent(parsing: bytes)
    _ = DTMFRelay(body: String(decoding: bytes, as: UTF8.self))
    return 0
}
