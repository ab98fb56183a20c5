// The phone between two call servers: it registers with the primary, moves to the secondary when
// the primary dies (SIGKILL), and back when the primary returns.

import Foundation
import Testing
import TestSupport
import Wire

@Suite(.serialized) struct PhoneFailoverTests {
    @Test func thePhoneMovesToTheSecondaryCallServerAndBack() async throws {
        var primary = try await PBXProcess.start()
        defer { primary.process.terminate() }
        let secondary = try await PBXProcess.start()
        defer { secondary.process.terminate() }
        let collab = try await CollabProcess.start(pbx: primary, secondary: secondary)
        defer { collab.process.terminate() }
        let phone = try await PhoneProcess.start("2001", collab: collab)
        defer { phone.process.terminate() }
        let states = phone.states()
        _ = try await states.next("registered with the primary", within: 15) {
            $0.registered && $0["registration"]?.objectValue?["server"] == "primary"
        }
        await states.close()

        let watch = phone.states()
        kill(primary.process.process.processIdentifier, SIGKILL)
        _ = try await primary.process.waitForExit(within: 10)
        _ = try await watch.next("registered with the secondary", within: 10) {
            $0.registered && $0["registration"]?.objectValue?["server"] == "secondary"
        }
        let devices = try await CTIClient(port: secondary.ctiPort).request("GET", "users/2001/devices")
        #expect(devices.array.count == 1, "the secondary knows the phone: \(devices.array)")

        primary = try await PBXProcess.start(dataDirectory: primary.dataDirectory, port: primary.port, ctiPort: primary.ctiPort)
        _ = try await watch.next("back on the primary", within: 15) {
            $0.registered && $0["registration"]?.objectValue?["server"] == "primary"
        }
        await watch.close()
    }
}
