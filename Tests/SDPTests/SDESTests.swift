// SDES (RFC 4568) in offer/answer: a=crypto lines written and read, RTP/SAVP when SRTP is
// required, best-effort SRTP on RTP/AVP when optional, and every refusal with its reason.

import Testing
@testable import SDP

@Suite struct SDESTests {
    static let ourKey = (0..<30).map { UInt8($0) }
    static let theirKey = (0..<30).map { UInt8(255 - $0) }

    static func offer(proto: String, crypto: [String]) throws -> SessionDescription {
        let lines = crypto.map { "a=crypto:\($0)\r\n" }.joined()
        return try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7078 \(proto) 0 101\r\n\(lines)a=rtpmap:101 telephone-event/8000\r\n")
    }

    static let baresipLine = "1 AES_CM_128_HMAC_SHA1_32 inline:\(Base64.encode(theirKey))"
    static let linphoneLine = "2 AES_CM_128_HMAC_SHA1_80 inline:\(Base64.encode(theirKey))|2^31"

    func endpoint(_ policy: MediaEncryptionPolicy) -> MediaEndpoint {
        MediaEndpoint(address: "127.0.0.1", port: 40000, srtp: policy == .off ? nil : LocalSRTP(policy: policy, keySalt: Self.ourKey))
    }

    @Test func base64RoundTripsAndRefusesWhatIsNot() {
        for count in 0...31 {
            let bytes = (0..<count).map { UInt8(($0 * 37) & 0xFF) }
            #expect(Base64.decode(Base64.encode(bytes)) == (count == 0 ? nil : bytes), "\(count) bytes")
        }
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        for bad in ["Zm9", "Zm=v", "Zm9v!A==", "====", "Z==="] { #expect(Base64.decode(bad) == nil, "\(bad)") }
    }

    @Test func aCryptoLineIsReadAndWrittenBack() throws {
        let line = try #require(CryptoAttribute(value: Self.linphoneLine))
        #expect(line.tag == 2 && line.suite == .aesCM128HmacSHA1_80 && line.keySalt == Self.theirKey && line.isUsable)
        #expect(line.value == Self.linphoneLine)
        #expect(CryptoAttribute(value: "1 AES_CM_128_HMAC_SHA1_80 inline:\(Base64.encode(Self.theirKey))|2^20|1:4")?.isUsable == false, "an MKI is not used")
        #expect(CryptoAttribute(value: "1 AES_CM_128_HMAC_SHA1_80 inline:\(Base64.encode(Self.theirKey)) UNENCRYPTED_SRTP")?.isUsable == false)
        #expect(CryptoAttribute(value: "1 AES_256_CM_HMAC_SHA1_80 inline:\(Base64.encode(Self.theirKey + Self.theirKey))")?.isUsable == false)
        #expect(CryptoAttribute(value: "1 AES_CM_128_HMAC_SHA1_80 inline:AAAA")?.isUsable == false, "a short key")
        #expect(CryptoAttribute(value: "x AES_CM_128_HMAC_SHA1_80 inline:AAAA") == nil)
        #expect(CryptoAttribute(value: "1 AES_CM_128_HMAC_SHA1_80 key:AAAA") == nil)
    }

    @Test func requiredOffersSAVPAndOptionalOffersAVPWithTheKey() {
        let required = OfferAnswer.offer(endpoint(.required), sessionID: 1, version: 1)
        #expect(required.media[0].proto == "RTP/SAVP")
        #expect(required.media[0].cryptoAttributes.map(\.keySalt) == [Self.ourKey])
        let optional = OfferAnswer.offer(endpoint(.optional), sessionID: 1, version: 1)
        #expect(optional.media[0].proto == "RTP/AVP")
        #expect(optional.media[0].cryptoAttributes.first?.suite == .aesCM128HmacSHA1_80)
        let off = OfferAnswer.offer(endpoint(.off), sessionID: 1, version: 1)
        #expect(off.media[0].proto == "RTP/AVP" && off.media[0].cryptoAttributes.isEmpty)
    }

    @Test(arguments: ["RTP/SAVP", "RTP/AVP"])
    func anOfferedKeyIsAnsweredWithOursUnderItsTag(proto: String) throws {
        let offer = try Self.offer(proto: proto, crypto: ["1 AES_256_CM_HMAC_SHA1_80 inline:\(Base64.encode(Self.theirKey + Self.theirKey))", Self.linphoneLine])
        let (answer, agreed) = try OfferAnswer.answer(offer, local: endpoint(.optional), sessionID: 1, version: 1)
        #expect(answer.media[0].proto == proto, "the answer keeps the offer's profile")
        let line = try #require(answer.media[0].cryptoAttributes.first)
        #expect(line.tag == 2 && line.suite == .aesCM128HmacSHA1_80 && line.keySalt == Self.ourKey)
        #expect(agreed.srtp == SRTPKeys(suite: .aesCM128HmacSHA1_80, local: Self.ourKey, remote: Self.theirKey))
        let reparsed = try SessionDescription(parsing: answer.text)
        #expect(reparsed.media[0].cryptoAttributes == answer.media[0].cryptoAttributes)
    }

    @Test func theRefusalsSayWhy() throws {
        #expect(throws: NegotiationError.encryptionOff) {
            try OfferAnswer.answer(try Self.offer(proto: "RTP/SAVP", crypto: [Self.baresipLine]), local: endpoint(.off), sessionID: 1, version: 1)
        }
        #expect(throws: NegotiationError.encryptionRequired) {
            try OfferAnswer.answer(try Self.offer(proto: "RTP/AVP", crypto: []), local: endpoint(.required), sessionID: 1, version: 1)
        }
        #expect(throws: NegotiationError.encryptionRequired) {
            try OfferAnswer.answer(try Self.offer(proto: "RTP/SAVP", crypto: []), local: endpoint(.optional), sessionID: 1, version: 1)
        }
        #expect(throws: NegotiationError.noUsableCrypto(offered: ["AES_256_CM_HMAC_SHA1_80"])) {
            try OfferAnswer.answer(try Self.offer(proto: "RTP/SAVP", crypto: ["1 AES_256_CM_HMAC_SHA1_80 inline:\(Base64.encode(Self.theirKey + Self.theirKey))"]),
                                   local: endpoint(.optional), sessionID: 1, version: 1)
        }
        #expect(NegotiationError.encryptionOff.warningCode == 302)
        // Plain offers still meet plain and optional ends; keys offered to an end with SRTP off are ignored.
        let (_, plain) = try OfferAnswer.answer(try Self.offer(proto: "RTP/AVP", crypto: []), local: endpoint(.optional), sessionID: 1, version: 1)
        #expect(plain.srtp == nil)
        let (answer, ignored) = try OfferAnswer.answer(try Self.offer(proto: "RTP/AVP", crypto: [Self.baresipLine]), local: endpoint(.off), sessionID: 1, version: 1)
        #expect(ignored.srtp == nil && answer.media[0].cryptoAttributes.isEmpty)
    }

    @Test func theOffererReadsTheKeyFromTheAnswer() throws {
        let local = endpoint(.required)
        let offer = OfferAnswer.offer(local, sessionID: 1, version: 1)
        var answerer = MediaEndpoint(address: "127.0.0.1", port: 50000, srtp: LocalSRTP(policy: .optional, keySalt: Self.theirKey))
        let (answer, theirs) = try OfferAnswer.answer(offer, local: answerer, sessionID: 2, version: 1)
        let ours = try OfferAnswer.accept(answer: answer, to: offer)
        #expect(ours.srtp == SRTPKeys(suite: .aesCM128HmacSHA1_80, local: Self.ourKey, remote: Self.theirKey))
        #expect(theirs.srtp == SRTPKeys(suite: .aesCM128HmacSHA1_80, local: Self.theirKey, remote: Self.ourKey))
        // An answer to RTP/SAVP without a key is refused; to RTP/AVP it is plain RTP.
        answerer.srtp = nil
        var bare = answer
        bare.media[0].attributes.removeAll { $0.name == "crypto" }
        #expect(throws: NegotiationError.encryptionRequired) { try OfferAnswer.accept(answer: bare, to: offer) }
        let optionalOffer = OfferAnswer.offer(endpoint(.optional), sessionID: 1, version: 1)
        #expect(try OfferAnswer.accept(answer: bare, to: optionalOffer).srtp == nil)
    }
}
