// The registration client running on the stack against a digest-authenticating registrar.

import TestSupport
import NIOCore
import NIOPosix
import SIPCore
import SIPMessage
import Testing
@testable import SIP

@Suite(.serialized, .realPeers) struct RegistrationRuntimeTests {
    let group = MultiThreadedEventLoopGroup.singleton

    @Test func registersThroughAChallengeRefreshesAndUnregisters() async throws {
        // The registrar: a user agent whose delegate authenticates 2001/pw2001.
        let serverTransport = SIPTransport(group: group)
        let port = try await serverTransport.listen(.udp, host: "127.0.0.1", port: 0).port!
        let registrar = TestUASDelegate()
        let server = UserAgent(stack: SIPStack(transport: serverTransport), identity: .init(user: "pbx", domain: "127.0.0.1"), delegate: registrar)
        await server.start()

        let clientTransport = SIPTransport(group: group)
        let local = try await clientTransport.listen(.udp, host: "127.0.0.1", port: 0)
        let stack = SIPStack(transport: clientTransport)
        await stack.start()
        var configuration = RegistrationClient.Configuration(
            registrar: try SIPURI("sip:127.0.0.1:\(port)"), addressOfRecord: try SIPURI("sip:2001@127.0.0.1"),
            contact: NameAddress(uri: try SIPURI("sip:2001@127.0.0.1:\(local.port!)")), callID: "reg-test", fromTag: "rt1")
        configuration.requestedExpiry = 2
        let registration = Registration(
            stack: stack, target: SIPTarget(kind: .udp, host: "127.0.0.1", port: port), configuration: configuration,
            authenticator: DigestAuthenticator(username: "2001", password: "pw2001"))
        let updates = registration.updates
        await registration.start()
        // First registration, then a refresh before the 2 s expiry runs out.
        let registeredCount = try await withTimeout(30, "two registrations (one refresh)") {
            var count = 0
            for await status in updates {
                if case .registered(expires: 2) = status { count += 1 }
                if count == 2 { break }
            }
            return count
        }
        #expect(registeredCount == 2)
        #expect(await registrar.bindings.count == 1)
        await registration.stop()
        _ = try await updates.first(within: 5, "unregistered") { $0 == .unregistered }
        #expect(await registrar.bindings.isEmpty)
        await stack.shutdown()
        await server.stack.shutdown()
    }

    @Test func wrongPasswordFailsWithAClearReason() async throws {
        let serverTransport = SIPTransport(group: group)
        let port = try await serverTransport.listen(.udp, host: "127.0.0.1", port: 0).port!
        let server = UserAgent(stack: SIPStack(transport: serverTransport), identity: .init(user: "pbx", domain: "127.0.0.1"), delegate: TestUASDelegate())
        await server.start()
        let clientTransport = SIPTransport(group: group)
        let local = try await clientTransport.listen(.udp, host: "127.0.0.1", port: 0)
        let stack = SIPStack(transport: clientTransport)
        await stack.start()
        let configuration = RegistrationClient.Configuration(
            registrar: try SIPURI("sip:127.0.0.1:\(port)"), addressOfRecord: try SIPURI("sip:2001@127.0.0.1"),
            contact: NameAddress(uri: try SIPURI("sip:2001@127.0.0.1:\(local.port!)")), callID: "reg-bad", fromTag: "rt2")
        let registration = Registration(
            stack: stack, target: SIPTarget(kind: .udp, host: "127.0.0.1", port: port), configuration: configuration,
            authenticator: DigestAuthenticator(username: "2001", password: "nope"))
        let updates = registration.updates
        await registration.start()
        let failure = try await updates.first(within: 10, "failure") { if case .failed = $0 { return true } else { return false } }
        guard case .failed(let reason) = failure else { return }
        #expect(reason.contains("rejected the credentials"))
        await stack.shutdown()
        await server.stack.shutdown()
    }
}
