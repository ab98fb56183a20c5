// What the collaboration server learns from the call server's events: who is on the phone (for
// presence), settings and devices that changed (told to the user's phones), calls that ended
// (read into history).

import CTILink
import Foundation
import Logging
import Synchronization
import Wire

struct CallServerWatcher: Sendable {
    let cti: CTIClient
    let follower: CTIEventFollower
    let hub: SessionHub
    let history: HistorySync
    let wallboard: Wallboard
    let logger: Logger
    /// Where each agent is logged in, so its logout reaches the user it was logged in at.
    let agentUsers = AgentUsers()
    /// Who was in each conference room, so a phone that leaves is told too.
    let conferenceUsers = ConferenceUsers()

    func run() async {
        await history.sync()
        await follower.run { message in
            switch message {
            case .connected(let resumed):
                logger.info("following the call server's events", metadata: ["resumed": "\(resumed)"])
                if !resumed { await resynchronise() }
                await wallboard.changed()
                await history.sync()
            case .event(let event):
                await apply(event)
            case .disconnected:
                await wallboard.lost()
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
        guard let message = CTIMessage(event) else {
            if event.cti != nil { logger.warning("a CTI event without the fields it needs was ignored", metadata: ["type": "\(event.type)"]) }
            return
        }
        switch message {
        case .callOffered(let call, let caller, _, _), .callOriginated(let call, let caller, _):
            await hub.addCall(call, for: caller)
        case .callAnswered(let call, let caller, let callee, _), .callTransferred(let call, let caller, let callee, _, _):
            for party in [caller, callee] { await hub.addCall(call, for: party) }
        case .callTransferring(let call, let party, _):
            await hub.removeCall(call, for: party)
        case .callEnded(let call, _, _, _, _):
            await hub.removeCall(call)
            await history.sync()
        case .featuresChanged(let user, _):
            var settings = message.fields
            settings["user"] = nil
            await hub.publish(.settingsChanged, settings, to: [user])
        case .devicesChanged(let user, _):
            await hub.publish(.devicesChanged, message.fields, to: [user])
        case .pathChanged:
            await wallboard.changed()
        case .agentChanged(let agent, let status, let reason, let device, let wrapUpEndsAt):
            await wallboard.changed()
            // To the user whose phone the agent is (or was, when it logs out) logged in at.
            guard let user = agentUsers.moved(agent, to: device) else { break }
            await hub.publish(.acdChanged, ["agent": .string(agent), "status": .string(status), "reason": .optional(reason), "device": .optional(device),
                                            "wrapUpEndsAt": .optional(wrapUpEndsAt.map { $0.formatted(.iso8601) })], to: [user])
        case .callbackRequested(_, let requester, _):
            await hub.publish(.callbackRequested, message.fields, to: [requester])
        case .callbackPlaced(_, _, let requester, _):
            await hub.publish(.callbackPlaced, message.fields, to: [requester])
        case .callbackExpired(_, let requester, _):
            await hub.publish(.callbackExpired, message.fields, to: [requester])
        case .messageWaiting(let user, let new, let old):
            await hub.publish(.voicemailChanged, ["new": .int(Int64(new)), "old": .int(Int64(old))], to: [user])
        case .conferenceJoined(let room, _), .conferenceLeft(let room, _), .conferenceTalking(let room, _, _):
            await conferenceChanged(room)
        case .hotDeskChanged(let user, let device, let previous):
            // The phone the user sits at now hears it is logged in; the one it left, that it is not.
            let name = (try? await cti.request("GET", "hotdesk").decode([HotDeskInfo].self))?.first { $0.user == user }?.name ?? user
            if let device {
                await hub.publish(.hotDeskChanged, ["user": .string(user), "name": .string(name), "loggedIn": true, "device": .string(device)], to: [device])
            }
            if let previous {
                await hub.publish(.hotDeskChanged, ["user": .string(user), "name": .string(name), "loggedIn": false, "device": .optional(device)], to: [previous])
            }
        default:
            break
        }
    }
}

extension CallServerWatcher {
    /// A room's participants changed, or a talker: the room as the call server has it now goes to
    /// every user in it, and to those who were in it at the last change (so a phone that left, or
    /// whose room closed, clears it).
    func conferenceChanged(_ room: String) async {
        let status: ConferenceRoomStatus?
        do {
            status = try await cti.request("GET", "conferences/" + CTIClient.pathComponent(room)).decode(ConferenceRoomStatus.self)
        } catch let failure as CTIFailure where failure.status == 404 {
            status = nil  // closed
        } catch {
            logger.warning("a conference room could not be read", metadata: ["room": "\(room)", "error": "\(error)"])
            return
        }
        let users = conferenceUsers.changed(room, to: Set(status?.participants.map(\.number) ?? []))
        guard !users.isEmpty else { return }
        await hub.publish(.conferenceChanged, ["room": .string(room), "status": status.flatMap { try? JSONValue(encoding: $0) } ?? .null], to: users)
    }
}

/// Conference room → the numbers in it at its last change.
final class ConferenceUsers: Sendable {
    private let rooms = Mutex<[String: Set<String>]>([:])

    /// Records who is in `room` now and returns whom to tell: those in it and those who were.
    func changed(_ room: String, to users: Set<String>) -> Set<String> {
        rooms.withLock { rooms in
            let previous = rooms[room] ?? []
            rooms[room] = users.isEmpty ? nil : users
            return users.union(previous)
        }
    }
}

/// Agent ID → the user whose phone it is logged in at.
final class AgentUsers: Sendable {
    private let users = Mutex<[String: String]>([:])

    /// Records where `agent` is now (nil: logged out) and returns whom to tell: the user it is at,
    /// or the one it was at.
    func moved(_ agent: String, to user: String?) -> String? {
        users.withLock { users in
            let previous = users[agent]
            users[agent] = user
            return user ?? previous
        }
    }
}
