// Consultation for CTI: hold the call and ring someone else from the same device, then complete
// the transfer (the held party and the consulted party are re-bridged, the consulting party
// leaves) or trade (alternate between the two calls). And callback: ring the requester when a
// busy or absent party is free again.

import Foundation
import SIP
import SIPCore
import SIPMessage

/// A request to be called back when `target` is free.
public struct Callback: Codable, Sendable, Equatable {
    public var id: String
    public var requester: String
    public var target: String
    public var createdAt: Date
    public var expiresAt: Date
}

extension CallServer {
    /// Holds call `id` for `party` and places a consultation call from `party`'s device to `destination`.
    public func consult(_ id: String, party: String, to destination: String) async throws -> CallSnapshot {
        let (call, side) = try connectedCall(id, party: party)
        try checkTarget(destination, field: "to", notOneOf: [call.caller, call.target])
        if !call.heldBy.contains(side) { _ = try await setHold(id, party: party, held: true) }
        var consultation = try makeCall(from: party, to: destination, autoAnswer: true)
        calls[consultation.call]?.consultationOf = id
        consultation.consultationOf = id
        events.append(.callConsulting(call: id, consultation: consultation.call, party: party, to: destination))
        return consultation
    }

    /// Connects the held party of `id` with the party consulted in `consultation`; `party` leaves both.
    public func completeTransfer(_ id: String, party: String, consultation consultationID: String) async throws -> CallSnapshot {
        let (held, heldSide) = try connectedCall(id, party: party)
        let (consultation, consultingSide) = try connectedCall(consultationID, party: party)
        guard held !== consultation else {
            throw ControlError(.invalid, "invalid_value", "consultation must be another call than \(id)", details: ["field": "consultation"])
        }
        let staying = heldSide.other
        let arriving = consultingSide.other
        guard let arrivingDialog = consultation.dialog(arriving), let arrivingTarget = consultation.legTarget(arriving),
              let arrivingSession = consultation.sdpFrom[arriving], let stayingSession = held.sdpFrom[staying] else {
            throw ControlError(.conflict, "invalid_state", "the consultation call is not connected", details: ["call": consultationID])
        }
        // The consulting party leaves both calls.
        for (call, side) in [(held, heldSide), (consultation, consultingSide)] { await dropLeg(call, side) }
        // The consulted party's leg moves into the held call, in the consulting party's place.
        let arrivingParty = consultation.party(arriving)
        placeLeg(held, on: heldSide, dialog: arrivingDialog, target: arrivingTarget, from: arrivingSession, to: consultation.sdpTo[arriving],
                 device: consultation.device[arriving])
        held.seat(arrivingParty, on: heldSide, name: configuration.user(arrivingParty)?.name)
        held.path += ["consultTransfer", arrivingParty]
        held.heldBy = []
        await holdRecall(held, .retrieved(by: heldSide))
        stopMusic(held)
        consultation.setDialog(arriving, nil)
        consultation.path += ["consultTransfer", held.party(staying)]
        await advance(consultation, .legsMoved)
        // Re-bridge both phones, each to the other's session, active again.
        let first = await reoffer(held, side: staying, session: arrivingSession, direction: "sendrecv")
        let second = await reoffer(held, side: heldSide, session: stayingSession, direction: "sendrecv")
        events.append(.callTransferred(call: id, caller: held.caller, callee: held.target, rebridged: first && second))
        guard first && second else {
            throw ControlError(.failed, "reinvite_failed", "a phone refused the re-INVITE joining the transferred call", details: ["call": id])
        }
        return snapshot(held)
    }

    /// Alternates: the active one of the two calls is held, the held one retrieved.
    public func trade(_ id: String, party: String, with otherID: String) async throws -> [CallSnapshot] {
        let (first, firstSide) = try connectedCall(id, party: party)
        let (second, secondSide) = try connectedCall(otherID, party: party)
        let firstHeld = first.heldBy.contains(firstSide)
        guard firstHeld != second.heldBy.contains(secondSide) else {
            throw ControlError(.conflict, "invalid_state", "trade needs one of the two calls held by \(party) and the other active", details: ["call": id])
        }
        let (toHold, toRetrieve) = firstHeld ? (otherID, id) : (id, otherID)
        _ = try await setHold(toHold, party: party, held: true)
        _ = try await setHold(toRetrieve, party: party, held: false)
        return [snapshot(first), snapshot(second)]
    }

    // MARK: - Callback

    public func requestCallback(from requester: String, to target: String) throws -> Callback {
        guard configuration.user(requester) != nil else { throw ControlError.unknownUser(requester) }
        try checkTarget(target, field: "to", notOneOf: [requester])
        if let existing = callbacks.values.first(where: { $0.requester == requester && $0.target == target }) { return existing }
        let created = Date()
        let callback = Callback(id: "cb-\(Self.newTag())", requester: requester, target: target, createdAt: created,
                                expiresAt: created.addingTimeInterval(configuration.callbackLifetime))
        callbacks[callback.id] = callback
        events.append(.callbackRequested(callback: callback.id, requester: requester, target: target))
        return callback
    }

    public func cancelCallback(_ id: String) throws {
        guard callbacks.removeValue(forKey: id) != nil else {
            throw ControlError(.notFound, "unknown_callback", "there is no callback \(id)", details: ["callback": id])
        }
    }

    public func pendingCallbacks() -> [Callback] { callbacks.values.sorted { $0.createdAt < $1.createdAt } }

    /// Whether `user` is in a call (ringing, connected or placing one).
    func isBusy(_ user: String) -> Bool {
        calls.values.contains { $0.state != .ended && ($0.caller == user || $0.target == user) }
    }

    /// Called whenever a call ends or a device registers: callbacks whose target and requester
    /// are now free and reachable are placed (requester's device rings first).
    func serveCallbacks() {
        let time = Date()
        for callback in callbacks.values.sorted(by: { $0.createdAt < $1.createdAt }) {
            if callback.expiresAt < time {
                callbacks[callback.id] = nil
                events.append(.callbackExpired(callback: callback.id, requester: callback.requester, target: callback.target))
                continue
            }
            guard !isBusy(callback.target), !isBusy(callback.requester), !deviceBindings(callback.target).isEmpty,
                  (try? store.features(callback.target).doNotDisturb) != true,
                  let placed = try? makeCall(from: callback.requester, to: callback.target) else { continue }
            callbacks[callback.id] = nil
            events.append(.callbackPlaced(callback: callback.id, call: placed.call, requester: callback.requester, target: callback.target))
        }
    }
}
