// libFuzzer entry point for the SDP parser and offer/answer, compiled with Sources/SDP by
// scripts/fuzz. Properties: parsing never crashes; what parses re-serializes to text that
// parses again to as many media sections; answering any parsed offer never crashes, and an
// answer it makes parses; with SRTP on, an answer carries our key exactly when keys were agreed.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    guard let offer = try? SessionDescription(parsing: text) else { return 0 }
    guard let again = try? SessionDescription(parsing: offer.text) else {
        fatalError("a parsed description does not re-parse after serialization")
    }
    precondition(again.media.count == offer.media.count, "media sections changed in a round trip")
    let local = MediaEndpoint(address: "127.0.0.1", port: 40000)
    if let (answer, _) = try? OfferAnswer.answer(offer, local: local, sessionID: 1, version: 1) {
        precondition((try? SessionDescription(parsing: answer.text)) != nil, "an answer we made does not parse")
    }
    // With SRTP on: an answer that agrees on keys carries exactly one usable crypto line with ours.
    let keys = Array(repeating: UInt8(7), count: SRTPSuite.keyLength)
    let secure = MediaEndpoint(address: "127.0.0.1", port: 40000, srtp: LocalSRTP(policy: .optional, keySalt: keys))
    if let (answer, agreed) = try? OfferAnswer.answer(offer, local: secure, sessionID: 1, version: 1) {
        guard let reparsed = try? SessionDescription(parsing: answer.text) else { fatalError("an SRTP answer we made does not parse") }
        let lines = reparsed.media.flatMap(\.cryptoAttributes)
        if agreed.srtp != nil {
            precondition(lines.count == 1 && lines[0].keySalt == keys && lines[0].isUsable, "the answer's crypto line is not ours")
        } else {
            precondition(lines.isEmpty, "keys in an answer that agreed on none")
        }
    }
    return 0
}
