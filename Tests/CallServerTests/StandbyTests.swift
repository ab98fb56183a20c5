// A secondary call server's side of following the primary, without a primary: features travel as
// the JSON the CTI API gives, a copy is stored and announced, and a change of its own is refused.

import Foundation
import Testing
import Wire
@testable import CallServer

@Suite struct StandbyTests {
    @Test func featuresTravelAsTheirCTIJSON() {
        var features = Features(extensionNumber: "2002")
        features.doNotDisturb = true
        features.forwardNoAnswer = "2003"
        features.noAnswerSeconds = 12
        features.selectedDevice = "<urn:uuid:5f1c>"
        #expect(Features(json: features.json) == features)
        #expect(Features(json: ["user": "2003", "noAnswerSeconds": .int(8)])?.noAnswerSeconds == 8)
        #expect(Features(json: ["doNotDisturb": true]) == nil, "no user: nothing to store")
    }

    @Test func aSecondaryStoresThePrimarysCopyAndRefusesChangesOfItsOwn() async throws {
        var configuration = officeConfiguration()
        configuration.follows = .init(cti: "http://127.0.0.1:9", secret: "s")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-pbx-\(UUID().uuidString)")
        let server = try await CallServer.start(configuration: configuration, dataDirectory: directory)
        let before = server.events.lastSequence
        var copy = Features(extensionNumber: "2002")
        copy.doNotDisturb = true
        copy.forwardBusy = "2004"
        try await server.replicate(copy)
        #expect(try await server.features(of: "2002") == copy)
        #expect(server.events.lastSequence == before + 1, "announced as features.changed")
        try await server.replicate(copy)
        #expect(server.events.lastSequence == before + 1, "the same copy again changes nothing")
        try await server.replicate(Features(extensionNumber: "9999"))
        #expect(server.events.lastSequence == before + 1, "an unknown user is skipped")

        let change = CallSettings.Change(CallSettings(doNotDisturb: false), keys: [.doNotDisturb])
        await #expect { try await server.updateFeatures(of: "2002", change) } throws: { error in
            (error as? ControlError)?.code == "follower"
        }
        #expect(try await server.features(of: "2002").doNotDisturb)
        await server.shutdown()
        // Durable: a restarted secondary has the copy before the primary is reachable.
        let again = try await CallServer.start(configuration: configuration, dataDirectory: directory)
        #expect(try await again.features(of: "2002") == copy)
        await again.shutdown()
    }
}
