// What the collaboration server learns from the call server's events: who is on the phone (for
// presence), settings and devices that changed (told to the user's phones), calls that ended
// (read into history).

import CTILink
import Foundation
import Logging
import Wire

struct CallServerWatcher: Sendable {
    let cti: CTIClient
    let follower: CTIEventFollower
    let hub: SessionHub
    let history: HistorySync
    let logger: Logger

    func run() async {
        await history.sync()
        await follower.run { message in
            switch message {
            case .connected(let resumed):
                logger.info("following the call server's events", metadata: ["resumed": "\(resumed)"])
                if !resumed { await resynchronise() }
                await history.sync()
            case .event(let event):
                await apply(event)
            case .disconnected:
                logger.warning("call server's event stream lost; reconnecting")
            }
        }
    }

    /// Events were missed: who is on the phone is re-read from the live calls.
    func resynchronise() async {
        guard let calls = try? await cti.request("GET", "calls").arrayValue else { return }
        var byUser: [String: Set<String>] = [:]
        for case .object(let call) in calls {
            guard let id = call["call"]?.stringValue else { continue }
            for party in [call["caller"], call["callee"]].compactMap({ $0?.stringValue }) { byUser[party, default: []].insert(id) }
        }
        await hub.replaceAllCalls(byUser)
    }

    func apply(_ event: StreamEvent) async {
        let f = event.fields
        switch event.cti {
        case .callOffered, .callOriginated:
            if let call = f["call"]?.stringValue, let caller = f["caller"]?.stringValue { await hub.addCall(call, for: caller) }
        case .callAnswered, .callTransferred:
            guard let call = f["call"]?.stringValue else { return }
            for party in [f["caller"], f["callee"]].compactMap({ $0?.stringValue }) { await hub.addCall(call, for: party) }
        case .callTransferring:
            if let call = f["call"]?.stringValue, let party = f["party"]?.stringValue { await hub.removeCall(call, for: party) }
        case .callEnded:
            if let call = f["call"]?.stringValue { await hub.removeCall(call) }
            await history.sync()
        case .featuresChanged:
            guard let user = f["user"]?.stringValue else { return }
            var settings = f
            settings["user"] = nil
            await hub.publish("settings.changed", settings, to: [user])
        case .devicesChanged:
            guard let user = f["user"]?.stringValue else { return }
            await hub.publish("devices.changed", f, to: [user])
        case .callbackPlaced, .callbackExpired, .callbackRequested:
            if let requester = f["requester"]?.stringValue { await hub.publish(event.type, f, to: [requester]) }
        default:
            break
        }
    }
}
