// A call server with linphone 2001 and baresips for tests of call features: once all are
// registered, linphone calls baresip 2002 (which answers by itself).

import Foundation
import TestSupport

struct LinphoneOffice {
    let pbx: PBXProcess
    let events: EventStreamClient
    let ada: Linphone
    let baresips: [ExternalProcess]

    /// `extra`: more of the call server's configuration; `cy`: baresip 2003 too, letting calls ring.
    static func start(extra: String, cy: Bool) async throws -> LinphoneOffice {
        let pbx = try await PBXProcess.start(extra: extra)
        let events = EventStreamClient(port: pbx.ctiPort)
        _ = try await events.next(type: "hello")
        let ada = try Linphone.start("2001", pbxPort: pbx.port, frequency: 700)
        var baresips = [try Baresip(number: "2002", pbxPort: pbx.port, sourceFrequency: 900, autoAnswer: true).start(seconds: 40)]
        if cy { baresips.append(try Baresip(number: "2003", pbxPort: pbx.port, sourceFrequency: 1300, autoAnswer: false).start(seconds: 40)) }
        let office = LinphoneOffice(pbx: pbx, events: events, ada: ada, baresips: baresips)
        try await LinphoneInteropTests.registered(cy ? ["2001", "2002", "2003"] : ["2001", "2002"], events: events)
        ada.command("call sip:2002@127.0.0.1:\(pbx.port)")
        return office
    }

    func stop() {
        for process in baresips { process.terminate() }
        pbx.process.terminate()
    }
}
