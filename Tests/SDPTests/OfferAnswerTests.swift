// SDP parsing and RFC 3264 offer/answer.

import Testing
@testable import SDP

let linphoneStyleOffer = """
v=0\r
o=caller 123 456 IN IP4 127.0.0.1\r
s=Talk\r
c=IN IP4 127.0.0.1\r
t=0 0\r
m=audio 7078 RTP/AVP 96 0 8 101\r
a=rtpmap:96 opus/48000/2\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-15\r
a=ptime:20\r
m=video 9078 RTP/AVP 97\r
a=rtpmap:97 VP8/90000\r

"""

@Suite struct OfferAnswerTests {
    let local = MediaEndpoint(address: "127.0.0.1", port: 40000)

    @Test func parsesAndRewritesSDP() throws {
        let sdp = try SessionDescription(parsing: linphoneStyleOffer)
        #expect(sdp.origin.sessionID == 123)
        #expect(sdp.media.count == 2)
        #expect(sdp.media[0].rtpmap(for: "101") == "telephone-event/8000")
        let again = try SessionDescription(parsing: sdp.text)
        #expect(again == sdp)
    }

    @Test func answerPicksFirstCommonCodecAndRefusesVideoWithPortZero() throws {
        let offer = try SessionDescription(parsing: linphoneStyleOffer)
        let (answer, agreed) = try OfferAnswer.answer(offer, local: local, sessionID: 1, version: 1)
        #expect(agreed.codec.name == "PCMU")
        #expect(agreed.telephoneEventPayloadType == 101)
        #expect(agreed.remotePort == 7078)
        #expect(answer.media.count == 2, "the answer has as many m= lines as the offer")
        #expect(answer.media[0].formats == ["0", "101"])
        #expect(answer.media[1].port == 0)
    }

    @Test func holdOfferIsAnsweredRecvonly() throws {
        var held = OfferAnswer.offer(local, sessionID: 5, version: 2, direction: .sendonly)
        held.origin.address = "127.0.0.1"
        let (answer, agreed) = try OfferAnswer.answer(held, local: MediaEndpoint(address: "127.0.0.1", port: 50000), sessionID: 9, version: 1)
        #expect(answer.media[0].explicitDirection == .recvonly)
        #expect(agreed.direction == .recvonly)
        let ours = try OfferAnswer.accept(answer: answer, to: held)
        #expect(ours.direction == .sendonly)
    }

    @Test func noCommonCodecIsAnErrorNamingTheCodecs() throws {
        let offer = try SessionDescription(parsing: "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n")
        #expect(throws: NegotiationError.noCommonCodec(offered: ["G722"])) {
            try OfferAnswer.answer(offer, local: local, sessionID: 1, version: 1)
        }
    }

    @Test func reofferMovingTheAddressIsFollowed() throws {
        let first = OfferAnswer.offer(MediaEndpoint(address: "127.0.0.1", port: 4000), sessionID: 1, version: 1)
        let moved = OfferAnswer.offer(MediaEndpoint(address: "127.0.0.2", port: 4002), sessionID: 1, version: 2)
        let (_, a) = try OfferAnswer.answer(first, local: local, sessionID: 2, version: 1)
        let (_, b) = try OfferAnswer.answer(moved, local: local, sessionID: 2, version: 2)
        #expect(a.remoteAddress == "127.0.0.1" && a.remotePort == 4000)
        #expect(b.remoteAddress == "127.0.0.2" && b.remotePort == 4002)
    }

    @Test func staticPayloadWithoutRtpmapIsUnderstood() throws {
        let offer = try SessionDescription(parsing: "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8\r\n")
        let (_, agreed) = try OfferAnswer.answer(offer, local: local, sessionID: 1, version: 1)
        #expect(agreed.codec == .pcma)
        #expect(agreed.telephoneEventPayloadType == nil)
    }
}
