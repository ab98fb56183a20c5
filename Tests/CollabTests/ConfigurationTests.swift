// The example office's configuration loads, and mistakes are named by key.

import ConfigFile
import Collab
import Foundation
import Testing
import Wire

@Suite struct ConfigurationTests {
    static let office = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/office/collab.yaml")

    @Test func theExampleOfficeLoads() throws {
        let configuration = try CollabConfiguration.load(Self.office)
        #expect(configuration.listen.port == 8470)
        #expect(configuration.users.map(\.extensionNumber) == ["2001", "2002", "2003", "2004"])
        #expect(configuration.callServer.primary == SIPServerAddress(host: "127.0.0.1", port: 5060))
        #expect(configuration.callServer.secondary == SIPServerAddress(host: "127.0.0.1", port: 5062))
        #expect(configuration.callServer.cti.secret == "office-cti-secret")
        #expect(configuration.heartbeatSeconds == 2)
    }

    @Test func mistakesNameTheKey() {
        #expect(throws: ConfigurationError.self) { try CollabConfiguration.parse("heartbeatSeconds: 0") }
        do {
            _ = try CollabConfiguration.parse("users:\n  - { extension: \"20a1\", name: X, password: p }", source: "c.yaml")
            Issue.record("a bad extension was accepted")
        } catch {
            #expect("\(error)" == "c.yaml: users[0].extension must be digits")
        }
        do {
            _ = try CollabConfiguration.parse("listen: { port: many }", source: "c.yaml")
            Issue.record("a bad port was accepted")
        } catch {
            #expect("\(error)".contains("listen.port"), "\(error)")
        }
    }
}
