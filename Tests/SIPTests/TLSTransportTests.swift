// SIP over TLS on real loopback sockets: a private CA made by TLSFiles, a client that trusts it
// (or pins the server's fingerprint), and the ways a connection must be refused.

import Foundation
import NIOCore
import NIOPosix
import SIPMessage
import TestSupport
import Testing
import TLSFiles
@testable import SIP

@Suite(.serialized, .realPeers) struct TLSTransportTests {
    let group = MultiThreadedEventLoopGroup.singleton

    /// A CA and server certificate in a fresh folder, and the TLS settings a server listens with.
    static func site() throws -> (files: TLSFileSet, server: SIPTLS) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        let files = try PrivateCA.ensure(in: directory, names: ["127.0.0.1"])
        let server = try TLSContexts.server(certificateFile: files.certificateFile.path, keyFile: files.keyFile.path)
        return (files, SIPTLS(server: server))
    }

    func transports(clientTLS: SIPTLS, serverTLS: SIPTLS, host: String = "127.0.0.1") async throws -> (server: SIPTransport, client: SIPTransport, target: SIPTarget) {
        var serverConfiguration = SIPTransport.Configuration()
        serverConfiguration.tls = serverTLS
        var clientConfiguration = SIPTransport.Configuration()
        clientConfiguration.tls = clientTLS
        let server = SIPTransport(group: group, configuration: serverConfiguration)
        let client = SIPTransport(group: group, configuration: clientConfiguration)
        let address = try await server.listen(.tls, host: host, port: 0)
        return (server, client, SIPTarget(kind: .tls, address: address))
    }

    @Test func aRequestAndItsResponseCrossTLSOnOneConnectionTrustedThroughThePrivateCA() async throws {
        let site = try Self.site()
        let (server, client, target) = try await transports(
            clientTLS: SIPTLS(client: try TLSContexts.client(caFile: site.files.caFile.path)), serverTLS: site.server)
        for n in 1...2 {
            let text = optionsRequest(branch: "z9hG4bKtls\(n)", via: "SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKtls\(n)")
            try await client.send(try SIPParser().parse(text), to: target)
            let incoming = try await server.incoming.first(within: 10, "request \(n) over TLS") { _ in true }
            #expect(incoming.kind == .tls)
            guard case .request(let request) = incoming.message else { Issue.record("expected a request"); return }
            try await server.sendResponse(SIPResponse(replyingTo: request, statusCode: 200, toTag: "t"), replyingTo: incoming)
            let response = try await client.incoming.first(within: 10, "response \(n) over TLS") { _ in true }
            #expect(response.message.response?.statusCode == 200)
            #expect(response.kind == .tls)
        }
        #expect(client.openConnectionCount == 1, "the second request reused the TLS connection")
        await client.shutdown()
        await server.shutdown()
    }

    @Test func aPinnedFingerprintIsAcceptedAndAnotherIsRefused() async throws {
        let site = try Self.site()
        let pin = try TLSContexts.fingerprint(ofPEMFile: site.files.certificateFile.path)
        #expect(pin.hasPrefix("SHA-256 "))
        // Pinned: no CA is needed (the system roots know nothing of the private CA).
        let pinned = try await transports(
            clientTLS: SIPTLS(client: try TLSContexts.client(caFile: nil), acceptServer: try TLSContexts.pinned(pin)), serverTLS: site.server)
        try await pinned.client.send(try SIPParser().parse(optionsRequest(via: "SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKpin1")), to: pinned.target)
        _ = try await pinned.server.incoming.first(within: 10, "the request from the pinning client") { _ in true }

        let other = String(repeating: "AB:", count: 31) + "AB"
        let wrong = try await transports(
            clientTLS: SIPTLS(client: try TLSContexts.client(caFile: nil), acceptServer: try TLSContexts.pinned(other)), serverTLS: site.server)
        let refusal = try #require(await failure(sending: "z9hG4bKpin2", over: wrong), "a server with another fingerprint was accepted")
        #expect(refusal.contains("TLS") || refusal.contains("CERTIFICATE"), "\(refusal)")
        #expect(wrong.server.counters.snapshot.messagesReceived == 0, "nothing crossed a connection whose certificate was refused")
        #expect(throws: (any Error).self) { _ = try TLSContexts.pinned("not a fingerprint") }
        for transport in [pinned.client, pinned.server, wrong.client, wrong.server] { await transport.shutdown() }
    }

    /// An OPTIONS carrying an SDP body with an SDES key (RFC 4568 `a=crypto`).
    static func keyedRequest(via: String) throws -> SIPMessage {
        var request = try #require(try SIPParser().parse(optionsRequest(via: via)).request)
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7078 RTP/SAVP 0\r\n"
            + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\r\na=sendrecv\r\n"
        request.setBody(Array(sdp.utf8), contentType: try MediaType("application/sdp"))
        return .request(request)
    }

    @Test func sdesKeysCrossTLSAndAreTakenOutOfSDPSentInClear() async throws {
        let site = try Self.site()
        let secure = try await transports(clientTLS: SIPTLS(client: try TLSContexts.client(caFile: site.files.caFile.path)), serverTLS: site.server)
        try await secure.client.send(try Self.keyedRequest(via: "SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKkey1"), to: secure.target)
        let overTLS = try await secure.server.incoming.first(within: 10, "the keyed request over TLS") { _ in true }
        #expect(overTLS.message.request?.bodyText.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80") == true)

        for kind in [SIPTransportKind.udp, .tcp] {
            let server = SIPTransport(group: group)
            let client = SIPTransport(group: group)
            let address = try await server.listen(kind, host: "127.0.0.1", port: 0)
            if kind == .udp { _ = try await client.listen(.udp, host: "127.0.0.1", port: 0) }
            try await client.send(try Self.keyedRequest(via: "SIP/2.0/\(kind.rawValue.uppercased()) 127.0.0.1:1;branch=z9hG4bKkey\(kind)"), to: SIPTarget(kind: kind, address: address))
            let inClear = try await server.incoming.first(within: 10, "the keyed request over \(kind)") { _ in true }
            let body = inClear.message.request?.bodyText ?? ""
            #expect(!body.contains("crypto"), "\(kind): \(body)")
            #expect(body.contains("m=audio 7078 RTP/SAVP 0\r\na=sendrecv\r\n"), "the rest of the SDP is untouched: \(body)")
            await client.shutdown()
            await server.shutdown()
        }
        await secure.client.shutdown()
        await secure.server.shutdown()
    }

    /// The failure a send reports, as text (nil: it did not fail).
    func failure(sending branch: String, over pair: (server: SIPTransport, client: SIPTransport, target: SIPTarget)) async -> String? {
        do {
            try await pair.client.send(try SIPParser().parse(optionsRequest(via: "SIP/2.0/TLS 127.0.0.1:1;branch=\(branch)")), to: pair.target)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aServerCertifiedByAnotherCAOrForAnotherAddressIsRefused() async throws {
        let site = try Self.site()
        let stranger = try Self.site()
        // Trusting another site's CA: the chain does not verify.
        let foreign = try await transports(clientTLS: SIPTLS(client: try TLSContexts.client(caFile: stranger.files.caFile.path)), serverTLS: site.server)
        let chainFailure = try #require(await failure(sending: "z9hG4bKca1", over: foreign))
        #expect(chainFailure.contains("CERTIFICATE_VERIFY_FAILED"), "\(chainFailure)")
        // The right CA, but the server answers on 127.0.0.2 with a certificate for 127.0.0.1 and localhost.
        let misnamed = try await transports(clientTLS: SIPTLS(client: try TLSContexts.client(caFile: site.files.caFile.path)), serverTLS: site.server, host: "127.0.0.2")
        let nameFailure = try #require(await failure(sending: "z9hG4bKca2", over: misnamed))
        #expect(nameFailure.contains("failedToValidateHostname"), "\(nameFailure)")
        #expect(foreign.server.counters.snapshot.messagesReceived == 0)
        #expect(misnamed.server.counters.snapshot.messagesReceived == 0)
        for transport in [foreign.client, foreign.server, misnamed.client, misnamed.server] { await transport.shutdown() }
    }

    @Test func clearTextOnTheTLSPortIsClosedAndTLSWithoutSettingsIsAClearError() async throws {
        let site = try Self.site()
        var configuration = SIPTransport.Configuration()
        configuration.tls = site.server
        let server = SIPTransport(group: group, configuration: configuration)
        let address = try await server.listen(.tls, host: "127.0.0.1", port: 0)
        // A plain-TCP SIP client on the TLS port: its bytes are not a handshake, the connection closes.
        let plain = SIPTransport(group: group)
        try? await plain.send(try SIPParser().parse(optionsRequest(via: "SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKplain")), to: SIPTarget(kind: .tcp, address: address))
        try await waitUntil(within: 10, "the clear-text connection closed") { plain.openConnectionCount == 0 }
        #expect(server.counters.snapshot.messagesReceived == 0)

        let bare = SIPTransport(group: group)
        await #expect(throws: SIPTransportError.self) { try await bare.listen(.tls, host: "127.0.0.1", port: 0) }
        await #expect(throws: SIPTransportError.self) {
            try await bare.send(try SIPParser().parse(optionsRequest()), to: SIPTarget(kind: .tls, address: address))
        }
        for transport in [server, plain, bare] { await transport.shutdown() }
    }

    @Test func aSipsURIGoesOverTLSOnPort5061AndAResponseNeverLeavesTLS() throws {
        #expect(SIPTarget(uri: try SIPURI("sips:2002@example.com")) == SIPTarget(kind: .tls, host: "example.com", port: 5061))
        #expect(SIPTarget(uri: try SIPURI("sips:2002@example.com;transport=tcp")).kind == .tls)
        #expect(SIPTarget(uri: try SIPURI("sip:2002@example.com;transport=tls")) == SIPTarget(kind: .tls, host: "example.com", port: 5061))
        let via = try Via("SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bKx")
        #expect(ResponseRouting.target(forResponseVia: via, arrivedOver: .tls).kind == .tls)
        let tlsVia = try Via("SIP/2.0/TLS 10.0.0.1:5071;branch=z9hG4bKy")
        #expect(ResponseRouting.target(forResponseVia: tlsVia, arrivedOver: .tcp).kind == .tls)
        #expect(ResponseRouting.target(forResponseVia: tlsVia, arrivedOver: .udp).kind == .udp)
    }
}

@Suite struct PrivateCATests {
    static func folder() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString)") }

    func mode(_ url: URL) throws -> Int { try (FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber)?.intValue ?? -1 }

    @Test func theCAAndServerCertificateAreMadeOnceOwnerOnlyAndKeptAcrossStarts() throws {
        let directory = Self.folder()
        let first = try PrivateCA.ensure(in: directory, names: ["127.0.0.1", "pbx.example.test"])
        #expect(try mode(directory) == 0o700)
        for file in [first.caFile, first.certificateFile, first.keyFile, directory.appendingPathComponent("ca.key")] {
            #expect(try mode(file) == 0o600, "\(file.lastPathComponent) is owner-only")
        }
        let certificate = try Data(contentsOf: first.certificateFile)
        let again = try PrivateCA.ensure(in: directory, names: ["pbx.example.test"])
        #expect(again == first)
        #expect(try Data(contentsOf: again.certificateFile) == certificate, "a second start with names already covered keeps the certificate")
        // The server certificate and the CA chain into a context that serves.
        _ = try TLSContexts.server(certificateFile: first.certificateFile.path, keyFile: first.keyFile.path)
    }

    @Test func aNewNameGetsANewServerCertificateFromTheSameCA() throws {
        let directory = Self.folder()
        let first = try PrivateCA.ensure(in: directory, names: ["127.0.0.1"])
        let ca = try Data(contentsOf: first.caFile)
        let fingerprint = try TLSContexts.fingerprint(ofPEMFile: first.certificateFile.path)
        _ = try PrivateCA.ensure(in: directory, names: ["10.1.2.3"])
        #expect(try TLSContexts.fingerprint(ofPEMFile: first.certificateFile.path) != fingerprint)
        #expect(try Data(contentsOf: first.caFile) == ca, "phones that trust the CA keep trusting it")
    }

    @Test func aCorruptCAFileIsNamedInTheError() throws {
        let directory = Self.folder()
        let files = try PrivateCA.ensure(in: directory, names: [])
        try Data("not a certificate".utf8).write(to: files.caFile)
        let error = try #require(throws: (any Error).self) { try PrivateCA.ensure(in: directory, names: []) }
        #expect("\(error)".contains(files.caFile.path), "\(error)")
        let missing = try #require(throws: (any Error).self) { try TLSContexts.client(caFile: "/nonexistent/ca.pem") }
        #expect("\(missing)".contains("/nonexistent/ca.pem"))
    }
}
