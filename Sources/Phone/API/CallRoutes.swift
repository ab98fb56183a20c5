// The call part of the phone's local API: every action checked against the capability table for
// that call at that moment; actions that need the collaboration server go through it.

import Foundation
import HTTPJSON
import Hummingbird
import HummingbirdWebSocket
import Wire

struct CallRoutes: Sendable {
    let core: PhoneCore

    func add(to api: RouterGroup<BasicWebSocketRequestContext>) {
        api.post("calls") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["to", "fromDevice"], in: body)
            let to = try JSONBody.string(body, "to")
            if let device = try JSONBody.optionalString(body, "fromDevice") {
                // "Call from another device": the call server rings that device first.
                try await core.require(.callMakeFromDevice)
                return JSONResponse.make(try await core.link.request(.callMake, ["to": .string(to), "device": .string(device)]), status: .created)
            }
            try await core.require(.callMake)
            // Online, the office's dialing rules apply; offline the number goes as typed (SYSTEM.md §2).
            var number = to
            if await core.mode == .online, case .object(let result)? = try? await core.link.request(.dialingApply, ["number": .string(to)]),
               let applied = result["number"]?.stringValue {
                number = applied
            }
            let id = try await core.calls.place(number)
            return JSONResponse.make(["id": id, "to": number], status: .created)
        }
        // Voicemail: what waits (from the call server's message-summary NOTIFYs, so offline too),
        // and a call to your own mailbox (*97), which the call server answers in every mode.
        api.get("voicemail") { _, _ in
            var waiting = (await core.calls.messageWaiting).flatMap { try? JSONValue(encoding: $0) } ?? .null
            // Online, the list too (visual voicemail); offline, what message waiting said.
            var messages = JSONValue.null
            if await core.mode == .online, case .object(let mailbox)? = try? await core.link.request(.voicemailList) {
                messages = mailbox["messages"] ?? .null
                if waiting == .null { waiting = mailbox["waiting"] ?? .null }
            }
            return JSONResponse.make(["waiting": waiting, "messages": messages])
        }
        api.get("voicemail/:id/audio") { _, context in
            let id = try Self.messageID(context)
            try await Self.requireOnline(core, "listening in the window")
            let data = try await core.link.voicemailAudio(id)
            return Response(status: .ok, headers: [.contentType: "audio/wav"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        api.post("voicemail/:id/heard") { _, context in
            let id = try Self.messageID(context)
            try await Self.requireOnline(core, "marking a message heard")
            return JSONResponse.make(try await core.link.request(.voicemailMove, ["id": .int(id), "folder": "Old"]))
        }
        api.delete("voicemail/:id") { _, context in
            let id = try Self.messageID(context)
            try await Self.requireOnline(core, "deleting a message")
            return JSONResponse.make(try await core.link.request(.voicemailDelete, ["id": .int(id)]))
        }
        api.post("voicemail/call") { request, _ in
            try JSONBody.only([], in: try await JSONBody.optionalObject(request))
            try await core.require(.voicemailCall)
            let id = try await core.calls.place("*97")
            return JSONResponse.make(["id": id, "to": "*97"], status: .created)
        }
        // A meet-me room is dialed like any number, so this works online and offline alike; a
        // room's PIN is keyed in the call (`dtmf`), ended by #.
        api.post("conference/join") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["room"], in: body)
            let room = try JSONBody.string(body, "room")
            guard !room.isEmpty, room.count <= 16, room.allSatisfy(\.isNumber) else { throw APIError.invalid("room", "a conference room's number (digits)") }
            try await core.require(.conferenceJoin)
            let id = try await core.calls.place(room)
            return JSONResponse.make(["id": id, "to": room], status: .created)
        }
        api.post("calls/:id/:action") { request, context in
            // Call ids are SIP Call-IDs ("…@host"): pages percent-encode them.
            let raw = try context.parameters.require("id")
            let id = raw.removingPercentEncoding ?? raw
            let action = try context.parameters.require("action")
            let body = try await JSONBody.optionalObject(request)
            let calls = core.calls
            switch action {
            case "answer":
                _ = try await core.require(.callAnswer, call: id)
                try await calls.answer(id)
            case "hold":
                _ = try await core.require(.callHold, call: id)
                try await calls.hold(id)
            case "retrieve":
                _ = try await core.require(.callRetrieve, call: id)
                try await calls.retrieve(id)
            case "mute", "unmute":
                _ = try await core.require(.callMute, call: id)
                try await calls.mute(id, action == "mute")
            case "end":
                _ = try await core.require(.callEnd, call: id)
                try await calls.end(id)
            case "dtmf":
                try JSONBody.only(["digits"], in: body)
                _ = try await core.require(.callDtmf, call: id)
                try await calls.dtmf(id, try JSONBody.string(body, "digits"))
            case "volume":
                try JSONBody.only(["level"], in: body)
                _ = try await core.require(.callVolume, call: id)
                let level: Double = switch body["level"] {
                case .int(let n)?: Double(n)
                case .double(let d)?: d
                case nil: throw APIError.missing("level")
                default: throw APIError.invalid("level", "a number from 0 to 2 (1 is unchanged)")
                }
                guard (0...2).contains(level) else { throw APIError.invalid("level", "a number from 0 to 2 (1 is unchanged)") }
                try await calls.volume(id, level)
            case "record":
                try JSONBody.only(["stop"], in: body)
                _ = try await core.require(.callRecord, call: id)
                let stop: Bool = switch body["stop"] {
                case nil: false
                case .bool(let value)?: value
                default: throw APIError.invalid("stop", "true to stop recording, false or absent to start")
                }
                try await calls.record(id, !stop)
            case "transfer": return try await serverAction(action, .callTransfer, id: id, body: body)
            case "consult": return try await serverAction(action, .callConsult, id: id, body: body)
            case "redirect": return try await serverAction(action, .callRedirect, id: id, body: body)
            case "trade": return try await serverAction(action, .callTrade, id: id, body: body)
            case "conference": return try await serverAction(action, .callConference, id: id, body: body)
            case "callback": return try await serverAction(action, .callCallback, id: id, body: body)
            default:
                throw APIError(.notFound, "not_found", "no call action \(action)")
            }
            return JSONResponse.make(await core.state().objectValue?["calls"] ?? .array([]))
        }
    }

    /// Transfer, consult, redirect, trade, callback: the collaboration server asks the call server.
    func serverAction(_ action: String, _ capability: CapabilityID, id: String, body: [String: JSONValue]) async throws -> Response {
        _ = try await core.require(capability, call: id)
        guard let serverCall = await core.calls.serverCall(of: id) else { throw CallFailure.unknownCall(id) }
        var params: [String: JSONValue] = ["call": .string(serverCall)]
        switch action {
        case "transfer":
            try JSONBody.only(["to", "consultation"], in: body)
            if let consultation = try JSONBody.optionalString(body, "consultation") {
                params["consultation"] = .string(await core.calls.serverCall(of: consultation) ?? consultation)
            } else {
                params["to"] = .string(try JSONBody.string(body, "to"))
            }
        case "consult", "redirect":
            try JSONBody.only(["to"], in: body)
            params["to"] = .string(try JSONBody.string(body, "to"))
        case "trade", "conference":
            try JSONBody.only(["with"], in: body)
            let other = try JSONBody.string(body, "with")
            params["with"] = .string(await core.calls.serverCall(of: other) ?? other)
        case "callback":
            try JSONBody.only([], in: body)
            guard let remote = await core.calls.snapshots().first(where: { $0.id == id })?.remote.number else { throw CallFailure.unknownCall(id) }
            params = ["to": .string(remote)]
        default:
            break
        }
        // The collaboration server's request is named as the capability it needs.
        guard let method = CollabMethod(rawValue: capability.rawValue) else {
            throw APIError(.internalServerError, "internal", "\(capability.rawValue) is not a request of the collaboration server")
        }
        return JSONResponse.make(try await core.link.request(method, params), status: .accepted)
    }
}

extension CallRoutes {
    static func messageID(_ context: BasicWebSocketRequestContext) throws -> Int64 {
        guard let id = context.parameters.get("id").flatMap({ Int64($0) }), id > 0 else { throw APIError.invalid("id", "a message id (a positive number)") }
        return id
    }

    /// Visual voicemail goes through the collaboration server; offline the mailbox is still a
    /// call away (`*97`, `voicemail.call`).
    static func requireOnline(_ core: PhoneCore, _ what: String) async throws {
        guard await core.mode == .online else {
            throw APIError(.conflict, "capability_unavailable", "\(what) needs the collaboration server; call your mailbox (*97) instead",
                           details: ["reason": "server_offline"])
        }
    }
}
