// UDP and TCP transports on real loopback sockets.

import TestSupport
import NIOCore
import NIOPosix
import SIPMessage
import Testing
@testable import SIP

func optionsRequest(branch: String = "z9hG4bKtest1", via: String = "SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKtest1;rport") -> String {
    """
    OPTIONS sip:server@127.0.0.1 SIP/2.0\r
    Via: \(via)\r
    Max-Forwards: 70\r
    To: <sip:server@127.0.0.1>\r
    From: <sip:client@127.0.0.1>;tag=abc\r
    Call-ID: \(branch)@127.0.0.1\r
    CSeq: 1 OPTIONS\r
    Content-Length: 0\r
    \r

    """
}

@Suite(.serialized, .realPeers) struct TransportTests {
    let group = MultiThreadedEventLoopGroup.singleton

    @Test func udpRequestIsStampedWithReceivedAndRPortAndAnsweredAtItsSource() async throws {
        let transport = SIPTransport(group: group)
        let address = try await transport.listen(.udp, host: "127.0.0.1", port: 0)
        let peer = try await RawUDPPeer(group: group)
        // The Via claims port 9 and host "client.invalid": the response must still reach the real source.
        try await peer.send(optionsRequest(via: "SIP/2.0/UDP client.invalid:9;branch=z9hG4bKtest1;rport"), to: address)
        let incoming = try await transport.incoming.first(within: 5, "the OPTIONS") { _ in true }
        guard case .request(let request) = incoming.message else { Issue.record("expected a request"); return }
        #expect(request.topVia?.received == "127.0.0.1")
        #expect(request.topVia?.rport == peer.port)
        try await transport.sendResponse(SIPResponse(replyingTo: request, statusCode: 200, toTag: "srv"), replyingTo: incoming)
        let reply = try await peer.received.first(within: 5, "the 200 OK") { _ in true }
        #expect(String(decoding: reply, as: UTF8.self).hasPrefix("SIP/2.0 200 OK\r\n"))
        await peer.close()
        await transport.shutdown()
    }

    @Test func malformedUDPRequestGets400NamingTheProblemAndMalformedResponseIsDropped() async throws {
        let transport = SIPTransport(group: group)
        let address = try await transport.listen(.udp, host: "127.0.0.1", port: 0)
        let peer = try await RawUDPPeer(group: group)
        let bad = optionsRequest().replacingOccurrences(of: "CSeq: 1 OPTIONS", with: "CSeq: 1 INVITE")
        try await peer.send(bad, to: address)
        let reply = String(decoding: try await peer.received.first(within: 5, "the 400") { _ in true }, as: UTF8.self)
        #expect(reply.hasPrefix("SIP/2.0 400 CSeq method INVITE does not match the request method OPTIONS\r\n"))
        try await peer.send("SIP/2.0 999 Nonsense\r\n\r\n", to: address)
        // The same socket still serves: a good request after the garbage is delivered.
        try await peer.send(optionsRequest(), to: address)
        _ = try await transport.incoming.first(within: 5, "the good OPTIONS") { _ in true }
        let counters = transport.counters.snapshot
        #expect(counters.malformed == 2)
        #expect(counters.errorResponses == 1)
        #expect(counters.dropped == 1)
        await peer.close()
        await transport.shutdown()
    }

    @Test func tcpConnectionIsReusedAndResponsesReturnOnIt() async throws {
        let server = SIPTransport(group: group)
        let client = SIPTransport(group: group)
        let serverAddress = try await server.listen(.tcp, host: "127.0.0.1", port: 0)
        _ = try await client.listen(.tcp, host: "127.0.0.1", port: 0)
        let target = SIPTarget(kind: .tcp, address: serverAddress)
        for n in 1...3 {
            let text = optionsRequest(branch: "z9hG4bKtcp\(n)", via: "SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKtcp\(n)")
            try await client.send(try SIPParser().parse(text), to: target)
            let incoming = try await server.incoming.first(within: 5, "request \(n)") { _ in true }
            #expect(incoming.connection != nil)
            guard case .request(let request) = incoming.message else { Issue.record("expected a request"); return }
            try await server.sendResponse(SIPResponse(replyingTo: request, statusCode: 200, toTag: "t"), replyingTo: incoming)
            let response = try await client.incoming.first(within: 5, "response \(n)") { _ in true }
            #expect(response.message.response?.statusCode == 200)
        }
        #expect(server.counters.snapshot.connectionsOpened == 1, "three requests share one connection")
        await client.shutdown()
        await server.shutdown()
    }

    @Test func tcpFramingSurvivesPartialPipelinedAndGarbageInput() async throws {
        let server = SIPTransport(group: group)
        let address = try await server.listen(.tcp, host: "127.0.0.1", port: 0)
        let peer = try await RawTCPPeer(group: group, to: address)
        let one = optionsRequest(branch: "z9hG4bKp1", via: "SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKp1")
        let two = optionsRequest(branch: "z9hG4bKp2", via: "SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKp2")
        let split = one.index(one.startIndex, offsetBy: 40)
        try await peer.send(String(one[..<split]))
        try await peer.send(String(one[split...]) + "garbage line\r\n\r\n" + two)
        var callIDs: [String] = []
        for _ in 0..<2 {
            let incoming = try await server.incoming.first(within: 5, "pipelined requests") { _ in true }
            callIDs.append(incoming.message.request?.callID ?? "?")
        }
        #expect(callIDs == ["z9hG4bKp1@127.0.0.1", "z9hG4bKp2@127.0.0.1"])
        #expect(server.counters.snapshot.malformed == 1)
        await peer.close()
        await server.shutdown()
    }

    @Test func crlfKeepAlivePingGetsAPong() async throws {
        let server = SIPTransport(group: group)
        let address = try await server.listen(.tcp, host: "127.0.0.1", port: 0)
        let peer = try await RawTCPPeer(group: group, to: address)
        try await peer.send("\r\n\r\n")
        let pong = try await peer.receive(within: 5) { $0 == "\r\n" }
        #expect(pong == "\r\n")
        #expect(server.counters.snapshot.keepAlivePings == 1)
        await peer.close()
        await server.shutdown()
    }

    @Test func idleConnectionIsClosed() async throws {
        var configuration = SIPTransport.Configuration()
        configuration.idleTimeout = .milliseconds(200)
        let server = SIPTransport(group: group, configuration: configuration)
        let address = try await server.listen(.tcp, host: "127.0.0.1", port: 0)
        let peer = try await RawTCPPeer(group: group, to: address)
        try await peer.waitForClose(within: 5)
        #expect(server.counters.snapshot.connectionsTimedOut == 1)
        await server.shutdown()
    }

    @Test func slowSenderIsCutOff() async throws {
        var configuration = SIPTransport.Configuration()
        configuration.slowSenderTimeout = .milliseconds(200)
        let server = SIPTransport(group: group, configuration: configuration)
        let address = try await server.listen(.tcp, host: "127.0.0.1", port: 0)
        let peer = try await RawTCPPeer(group: group, to: address)
        try await peer.send("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP")
        try await peer.waitForClose(within: 5)
        #expect(server.counters.snapshot.connectionsTimedOut == 1)
        await server.shutdown()
    }

    @Test func oversizedStreamIsClosed() async throws {
        var configuration = SIPTransport.Configuration()
        configuration.parserLimits = SIPParserLimits(maxMessageSize: 2048)
        let server = SIPTransport(group: group, configuration: configuration)
        let address = try await server.listen(.tcp, host: "127.0.0.1", port: 0)
        let peer = try await RawTCPPeer(group: group, to: address)
        try await peer.send(String(repeating: "A", count: 4096))
        try await peer.waitForClose(within: 5)
        #expect(server.counters.snapshot.connectionsTimedOut == 1, "an unframeable stream is cut off")
        await server.shutdown()
    }
}
