// Parser, model and serializer behaviour beyond the torture set.

import Testing
@testable import SIPMessage

let sampleInvite = """
INVITE sip:2002@127.0.0.1 SIP/2.0\r
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport\r
Max-Forwards: 70\r
To: "Brook Taylor" <sip:2002@127.0.0.1>\r
From: "Ada Lovelace" <sip:2001@127.0.0.1>;tag=1928301774\r
Call-ID: a84b4c76e66710@127.0.0.1\r
CSeq: 314159 INVITE\r
Contact: <sip:2001@127.0.0.1:5070>\r
X-Custom:   odd   spacing  \r
Content-Type: application/sdp\r
Content-Length: 134\r
\r
v=0\r
o=ada 2890844526 2890844526 IN IP4 127.0.0.1\r
s=-\r
c=IN IP4 127.0.0.1\r
t=0 0\r
m=audio 49170 RTP/AVP 0 101\r
a=rtpmap:0 PCMU/8000\r

"""

@Suite struct ParserTests {
    let parser = SIPParser()

    @Test func parsesTypedHeadersOfAnInvite() throws {
        guard case .request(let invite) = try parser.parse(sampleInvite) else { Issue.record("not a request"); return }
        #expect(invite.method == .invite)
        #expect(invite.uri.user == "2002")
        #expect(invite.topVia?.branch == "z9hG4bK776asdhds")
        #expect(invite.topVia?.hasRPort == true)
        #expect(invite.topVia?.port == 5070)
        #expect(invite.from?.displayName == "Ada Lovelace")
        #expect(invite.from?.tag == "1928301774")
        #expect(invite.to?.tag == nil)
        #expect(invite.cseq == CSeq(314159, .invite))
        #expect(invite.maxForwards == 70)
        #expect(invite.contacts.first?.uri.sipURI?.port == 5070)
        #expect(invite.contentType?.essence == "application/sdp")
        #expect(invite.body.count == 134)
    }

    @Test func unknownHeadersAreWrittenBackByteExact() throws {
        let message = try parser.parse(sampleInvite)
        let text = String(decoding: message.serialized(), as: UTF8.self)
        #expect(text.contains("X-Custom:   odd   spacing  \r\n"))
        #expect(text == sampleInvite, "an unmodified message serializes to its original bytes")
    }

    @Test func foldedHeaderIsUnfoldedForAccessAndKeptForWriting() throws {
        let text = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1\r\n  OPTIONS\r\nSubject: one\r\n\ttwo\r\nContent-Length: 0\r\n\r\n"
        let message = try parser.parse(text)
        #expect(message.headers["subject"] == "one two")
        #expect(message.request?.cseq == CSeq(1, .options))
        #expect(String(decoding: message.serialized(), as: UTF8.self).contains("Subject: one\r\n\ttwo\r\n"))
    }

    @Test func compactFormsMapToFullNames() throws {
        let text = "OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h;branch=z9hG4bK1\r\nt: <sip:a@b>\r\nf: <sip:c@d>;tag=1\r\ni: x\r\nCSeq: 1 OPTIONS\r\nk: path, outbound\r\nl: 0\r\n\r\n"
        guard case .request(let request) = try parser.parse(text) else { Issue.record("not a request"); return }
        #expect(request.callID == "x")
        #expect(request.topVia?.transport == "TCP")
        #expect(request.supported == ["path", "outbound"])
    }

    @Test(arguments: [
        ("CSeq: 2147483648 OPTIONS", "2^31"),
        ("Max-Forwards: 256", "0 to 255"),
        ("Expires: 4294967296", "2^32"),
    ])
    func numericFieldsAreRangeChecked(header: String, mention: String) {
        var text = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\n"
        if !header.hasPrefix("CSeq") { text += "CSeq: 1 OPTIONS\r\n" }
        text += header + "\r\nContent-Length: 0\r\n\r\n"
        #expect {
            try parser.parse(text)
        } throws: { error in
            (error as? SIPParseError)?.reason.contains(mention) == true
        }
    }

    @Test func statusCodeOutsideRangeIsRejected() {
        let text = "SIP/2.0 700 Odd\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>;tag=2\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n"
        #expect(throws: SIPParseError.self) { try parser.parse(text) }
    }

    @Test func oversizedMessageIsRejectedWith513() {
        let limits = SIPParserLimits(maxMessageSize: 200)
        let error = #expect(throws: SIPParseError.self) { try SIPParser(limits: limits).parse(sampleInvite) }
        #expect(error?.statusCode == 513)
        #expect(error?.reason.contains("200-byte limit") == true)
    }

    @Test func tooManyHeadersIsRejected() {
        let limits = SIPParserLimits(maxHeaderCount: 5)
        let error = #expect(throws: SIPParseError.self) { try SIPParser(limits: limits).parse(sampleInvite) }
        #expect(error?.reason.contains("more than 5 header fields") == true)
    }

    @Test func overlongLineIsRejected() {
        let limits = SIPParserLimits(maxLineLength: 40)
        let error = #expect(throws: SIPParseError.self) { try SIPParser(limits: limits).parse(sampleInvite) }
        #expect(error?.reason.contains("40-byte limit") == true)
    }

    @Test func malformedRequestYieldsA400WithTheProblemAsReason() {
        let text = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nMax-Forwards: many\r\n\r\n"
        let error = #expect(throws: SIPParseError.self) { try parser.parse(text) }
        let response = error?.errorResponse(toTag: "abc")
        #expect(response?.statusCode == 400)
        #expect(response?.reasonPhrase.contains("Max-Forwards") == true)
        #expect(response?.to?.tag == "abc")
        #expect(response?.callID == "x")
    }

    @Test func aRequestLineSeparatedByTabsIsRefusedWith400() {
        let text = "INVITE\tsip:a@b\tSIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        let error = #expect(throws: SIPParseError.self) { try parser.parse(text) }
        #expect(error?.errorResponse(toTag: "abc")?.statusCode == 400)
        #expect(error?.reason.contains("not tabs") == true, "\(String(describing: error))")
        // Several spaces stay accepted (RFC 4475 §3.1.2.9).
        #expect(throws: Never.self) { try parser.parse(text.replacingOccurrences(of: "\t", with: "  ")) }
    }

    @Test func responseWithoutReasonPhraseParses() throws {
        let text = "SIP/2.0 180 \r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>;tag=2\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        guard case .response(let response) = try parser.parse(text) else { Issue.record("not a response"); return }
        #expect(response.statusCode == 180)
        #expect(response.reasonPhrase == "")
    }

    @Test func builtRequestRoundTrips() throws {
        var headers = SIPHeaders()
        headers.add(.via, Via(transport: "UDP", host: "127.0.0.1", port: 5060, branch: "z9hG4bKabc").description)
        headers.add(.from, NameAddress(displayName: "Ada \"The\" Countess", uri: try SIPURI("sip:2001@127.0.0.1"), parameters: Parameters([("tag", "x1")])).description)
        headers.add(.to, NameAddress(uri: try SIPURI("sip:2002@127.0.0.1")).description)
        headers.add(.callID, "abc@host")
        headers.add(.cseq, CSeq(1, .message).description)
        var request = SIPRequest(method: .message, uri: .sip(try SIPURI("sip:2002@127.0.0.1;transport=tcp")), headers: headers)
        request.setBody(Array("hello".utf8), contentType: MediaType(type: "text", subtype: "plain"))
        guard case .request(let parsed) = try parser.parse(request.serialized()) else { Issue.record("not a request"); return }
        #expect(parsed.from?.displayName == "Ada \"The\" Countess")
        #expect(parsed.uri.sipURI?.transport == "tcp")
        #expect(parsed.bodyText == "hello")
        #expect(parsed.headers[.contentLength] == "5")
    }
}

@Suite struct URITests {
    @Test func parsesAFullSIPURI() throws {
        let uri = try SIPURI("sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?subject=hi&priority=urgent")
        #expect(uri.isSecure)
        #expect(uri.user == "alice")
        #expect(uri.password == "secret")
        #expect(uri.host == "[2001:db8::1]")
        #expect(uri.bareHost == "2001:db8::1")
        #expect(uri.port == 5061)
        #expect(uri.parameters.contains("lr"))
        #expect(uri.headers.count == 2)
        #expect(uri.description == "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?subject=hi&priority=urgent")
    }

    @Test func telAndUnknownSchemes() throws {
        guard case .tel(let tel) = try URI("tel:+1-201-555-0123;phone-context=example.com") else { Issue.record("not tel"); return }
        #expect(tel.digits == "+12015550123")
        #expect(tel.parameters["phone-context"] == "example.com")
        #expect(try URI("urn:service:sos") == .other(scheme: "urn", opaque: "service:sos"))
    }

    @Test func equivalenceFollowsRFC3261Comparison() throws {
        let a = try SIPURI("sip:%61lice@ATLANTA.com;transport=TCP")
        let b = try SIPURI("sip:alice@AtLanTa.CoM;Transport=tcp")
        #expect(a.isEquivalent(to: b))
        #expect(!(try SIPURI("sip:alice@atlanta.com")).isEquivalent(to: try SIPURI("sip:alice@atlanta.com:5060")))
        #expect(!(try SIPURI("sip:bob@biloxi.com;transport=udp")).isEquivalent(to: try SIPURI("sip:bob@biloxi.com")))
    }

    @Test(arguments: ["sip:", "sip:@host", "sip:a@b:99999", "sip:a@b;=x", "sip:a%zz@b", "sip:a@b c"])
    func malformedURIsAreRejected(_ text: String) {
        #expect(throws: SyntaxError.self) { try URI(text) }
    }
}

@Suite struct StreamFramerTests {
    @Test func framesPartialAndPipelinedMessages() throws {
        let message = Array(sampleInvite.utf8)
        var framer = StreamFramer()
        // Byte by byte: nothing until the last byte.
        for byte in message.dropLast() {
            framer.append([byte])
            #expect(framer.next() == nil)
        }
        framer.append([message.last!])
        #expect(framer.next() == .message(message))
        // Two messages and a ping in one read.
        framer.append(message + Array("\r\n\r\n".utf8) + message)
        #expect(framer.next() == .message(message))
        #expect(framer.next() == .keepAlivePing)
        #expect(framer.next() == .message(message))
        #expect(framer.next() == nil)
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func singleCRLFIsAPong() {
        var framer = StreamFramer()
        framer.append(Array("\r\n".utf8))
        #expect(framer.next() == .keepAlivePong)
    }

    @Test func garbageHeadIsSkippedAndFramingRecovers() {
        var framer = StreamFramer()
        let good = Array(sampleInvite.utf8)
        framer.append(Array("garbage\r\nContent-Length: -5\r\n\r\n".utf8) + good)
        guard case .malformed(_, let reason) = framer.next() else { Issue.record("expected malformed"); return }
        #expect(reason.contains("Content-Length"))
        #expect(framer.next() == .message(good))
    }

    @Test func headWithoutEndBeyondLimitIsFatal() {
        var framer = StreamFramer(limits: SIPParserLimits(maxMessageSize: 1000))
        framer.append([UInt8](repeating: 0x41, count: 1001))
        guard case .fatal = framer.next() else { Issue.record("expected fatal"); return }
        framer.append(Array(sampleInvite.utf8))
        #expect(framer.next() == nil, "a failed stream stays failed")
    }

    @Test func parsedFramedMessageMatchesDatagramParse() throws {
        var framer = StreamFramer()
        framer.append(Array(sampleInvite.utf8))
        guard case .message(let bytes) = framer.next() else { Issue.record("no message"); return }
        let streamed = try SIPParser().parse(bytes, framing: .stream)
        #expect(streamed == (try SIPParser().parse(sampleInvite)))
    }
}
