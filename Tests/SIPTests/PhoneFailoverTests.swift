// The phone between two call servers: it registers with the primary, moves to the secondary when
// the primary dies (SIGKILL), and back when the primary returns.

import Foundation
import Testing
import TestSupport
import Wire

@Suite(.serialized, .realPeers) struct PhoneFailoverTests {
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

    /// A secondary that follows the primary (`follows` in its configuration) holds the primary's
    /// feature state: what was set before it started (snapshot) and what changes after (event
    /// stream) is copied; a change made on the secondary itself is refused (it would be lost);
    /// the copy survives the secondary's own SIGKILL while the primary is dead, and the secondary
    /// applies it to calls (DND answers busy, "Send my calls to" forwards).
    @Test func theSecondaryFollowsThePrimarysFeaturesAndAppliesThemAfterItDies() async throws {
        let primary = try await PBXProcess.start()
        defer { primary.process.terminate() }
        let cti = CTIClient(port: primary.ctiPort)
        #expect(try await cti.request("PATCH", "users/2002/features", body: #"{"doNotDisturb": true}"#).status == 200)
        var secondary = try await PBXProcess.start(follows: primary)
        defer { secondary.process.terminate() }
        let copied = CTIClient(port: secondary.ctiPort)
        try await withTimeout(10, "the secondary to copy 2002's DND") {
            while try await copied.request("GET", "users/2002/features")["doNotDisturb"] != .bool(true) { try await Task.sleep(for: .milliseconds(50)) }
        }
        let events = EventStreamClient(port: secondary.ctiPort)
        _ = try await events.next(type: "hello")
        #expect(try await cti.request("PATCH", "users/2003/features", body: #"{"forwardAlways": "2002"}"#).status == 200)
        let changed = try await events.next("2003's forwarding copied", within: 10) { $0["type"] == "features.changed" && $0["user"] == "2003" }
        #expect(changed["forwardAlways"] == "2002", "\(changed)")
        await events.close()
        let refused = try await copied.request("PATCH", "users/2003/features", body: #"{"forwardAlways": null}"#)
        #expect(refused.status == 409 && refused["error"] == "follower", "\(refused.json)")

        kill(primary.process.process.processIdentifier, SIGKILL)
        _ = try await primary.process.waitForExit(within: 10)
        kill(secondary.process.process.processIdentifier, SIGKILL)
        _ = try await secondary.process.waitForExit(within: 10)
        secondary = try await PBXProcess.start(dataDirectory: secondary.dataDirectory, port: secondary.port, ctiPort: secondary.ctiPort, follows: primary)
        let busy = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2002@127.0.0.1:\(secondary.port)", "--user", "2001", "--password", "pw2001", "--json"],
                                       name: "call-secondary-dnd")
        _ = try await busy.waitForExit(within: 30)
        #expect(busy.outputTail().contains("486"), "the secondary applies 2002's DND: \(busy.outputTail())")
        // 2003 forwards to 2002, which is on DND: busy too, and the CDR shows the forwarding.
        let forwarded = try ExternalProcess(MediaInteropTests.holdfast, ["sip", "call", "sip:2003@127.0.0.1:\(secondary.port)", "--user", "2001", "--password", "pw2001", "--json"],
                                            name: "call-secondary-forward")
        _ = try await forwarded.waitForExit(within: 30)
        let records = try await CTIClient(port: secondary.ctiPort).request("GET", "cdr?after=0")["records"]?.arrayValue ?? []
        #expect(records.contains { $0.objectValue?["dialed"] == "2003" && $0.objectValue?["callee"] == "2002" }, "\(records)")
    }
}
