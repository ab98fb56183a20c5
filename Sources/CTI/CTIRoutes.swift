// The CTI resources: status, features, devices, calls, CDRs, and the event stream.

import Wire
import CallServer
import Foundation
import HTTPJSON
import Hummingbird
import HummingbirdWebSocket
import NIOCore

struct CTIRoutes: Sendable {
    let server: CallServer

    /// A path parameter, percent-decoded (participants are named by Call-IDs, `…@host;caller`).
    static func decoded(_ context: BasicWebSocketRequestContext, _ name: String) throws -> String {
        let raw = try context.parameters.require(name)
        return raw.removingPercentEncoding ?? raw
    }

    static func messageID(_ context: BasicWebSocketRequestContext) throws -> Int64 {
        guard let id = context.parameters.get("id").flatMap({ Int64($0) }) else { throw APIError.invalid("id", "a message id (a number)") }
        return id
    }

    func add(to group: RouterGroup<BasicWebSocketRequestContext>) {
        group.get("status") { _, _ in
            JSONResponse.make(Status(epoch: server.events.epoch, sequence: server.events.lastSequence,
                                     calls: await server.activeCallCount, eventSubscribers: server.events.subscriberCount))
        }
        group.get("users/:user/features") { _, context in
            JSONResponse.make(try await server.features(of: context.parameters.require("user")).json)
        }
        group.patch("users/:user/features") { request, context in
            let change = try Self.featureChange(try await JSONBody.object(request))
            return JSONResponse.make(try await server.updateFeatures(of: context.parameters.require("user"), change).json)
        }
        group.get("users/:user/devices") { _, context in
            JSONResponse.make(try await server.devices(of: context.parameters.require("user")))
        }
        group.get("calls") { _, _ in
            JSONResponse.make(await server.liveCalls())
        }
        // Visual voicemail: a user's mailbox, a message's audio, heard or saved, deleted.
        group.get("users/:user/voicemail") { _, context in
            JSONResponse.make(try await server.mailbox(of: context.parameters.require("user")))
        }
        group.get("users/:user/voicemail/:id/audio") { _, context in
            let url = try await server.messageAudio(try Self.messageID(context), of: context.parameters.require("user"))
            let bytes = try Data(contentsOf: url)
            return Response(status: .ok, headers: [.contentType: "audio/wav", .contentLength: String(bytes.count)],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        group.patch("users/:user/voicemail/:id") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["folder"], in: body)
            guard let folder = VoicemailFolder(rawValue: try JSONBody.string(body, "folder")) else {
                throw APIError.invalid("folder", "one of INBOX, Old, Saved")
            }
            return JSONResponse.make(try await server.moveMessage(try Self.messageID(context), of: context.parameters.require("user"), to: folder))
        }
        group.delete("users/:user/voicemail/:id") { _, context in
            let id = try Self.messageID(context)
            try await server.deleteMessage(id, of: context.parameters.require("user"))
            return JSONResponse.make(["id": JSONValue.int(id), "deleted": JSONValue.bool(true)])
        }
        // Meet-me conference rooms: participants, mute, remove, lock.
        group.get("conferences") { _, _ in
            JSONResponse.make(try await server.conferences())
        }
        group.get("conferences/:room") { _, context in
            JSONResponse.make(try await server.conference(try Self.decoded(context, "room")))
        }
        group.patch("conferences/:room") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["locked"], in: body)
            guard let locked = body["locked"]?.boolValue else { throw APIError.invalid("locked", "true or false") }
            return JSONResponse.make(try await server.lockConference(try Self.decoded(context, "room"), locked: locked))
        }
        group.patch("conferences/:room/participants/:participant") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["muted"], in: body)
            guard let muted = body["muted"]?.boolValue else { throw APIError.invalid("muted", "true or false") }
            return JSONResponse.make(try await server.muteParticipant(try Self.decoded(context, "participant"), in: try Self.decoded(context, "room"), muted: muted))
        }
        group.delete("conferences/:room/participants/:participant") { _, context in
            JSONResponse.make(try await server.removeParticipant(try Self.decoded(context, "participant"), from: try Self.decoded(context, "room")))
        }
        group.post("calls") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["from", "to", "device"], in: body)
            let call = try await server.makeCall(from: try JSONBody.string(body, "from"), to: try JSONBody.string(body, "to"),
                                                 device: try JSONBody.optionalString(body, "device"))
            return JSONResponse.make(call, status: .created)
        }
        group.delete("calls/:call") { _, context in
            let id = try Self.callID(context)
            try await server.clear(id)
            return JSONResponse.make(["call": id, "cleared": "true"])
        }
        group.post("calls/:call/deflect") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["to", "party"], in: body)
            return JSONResponse.make(try await server.deflect(try Self.callID(context), to: try JSONBody.string(body, "to"),
                                                              party: try JSONBody.optionalString(body, "party")))
        }
        group.post("calls/:call/transfer") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["party", "to"], in: body)
            let call = try await server.transfer(try Self.callID(context), party: try JSONBody.string(body, "party"), to: try JSONBody.string(body, "to"))
            return JSONResponse.make(call, status: .accepted)
        }
        group.post("calls/:call/hold") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["party"], in: body)
            return JSONResponse.make(try await server.hold(try Self.callID(context), party: try JSONBody.string(body, "party")))
        }
        group.post("calls/:call/retrieve") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["party"], in: body)
            return JSONResponse.make(try await server.retrieve(try Self.callID(context), party: try JSONBody.string(body, "party")))
        }
        group.post("calls/:call/consult") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["party", "to"], in: body)
            let call = try await server.consult(try Self.callID(context), party: try JSONBody.string(body, "party"), to: try JSONBody.string(body, "to"))
            return JSONResponse.make(call, status: .created)
        }
        group.post("calls/:call/complete") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["party", "consultation"], in: body)
            return JSONResponse.make(try await server.completeTransfer(try Self.callID(context), party: try JSONBody.string(body, "party"),
                                                                       consultation: try JSONBody.string(body, "consultation")))
        }
        group.post("calls/:call/trade") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["party", "with"], in: body)
            return JSONResponse.make(try await server.trade(try Self.callID(context), party: try JSONBody.string(body, "party"), with: try JSONBody.string(body, "with")))
        }
        group.post("calls/:call/conference") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["party", "with"], in: body)
            return JSONResponse.make(try await server.conference(try Self.callID(context), party: try JSONBody.string(body, "party"),
                                                                 with: try JSONBody.string(body, "with")))
        }
        group.get("callbacks") { _, _ in
            JSONResponse.make(await server.pendingCallbacks())
        }
        group.post("callbacks") { request, _ in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["from", "to"], in: body)
            return JSONResponse.make(try await server.requestCallback(from: try JSONBody.string(body, "from"), to: try JSONBody.string(body, "to")), status: .created)
        }
        group.delete("callbacks/:callback") { _, context in
            let id = try context.parameters.require("callback")
            try await server.cancelCallback(id)
            return JSONResponse.make(["callback": id, "cancelled": "true"])
        }
        group.get("agents") { _, _ in
            JSONResponse.make(await server.agents())
        }
        group.get("agents/:agent") { _, context in
            JSONResponse.make(try await server.agentInfo(context.parameters.require("agent")))
        }
        group.post("agents/:agent/login") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["device"], in: body)
            return JSONResponse.make(try await server.agentLogin(context.parameters.require("agent"), device: try JSONBody.string(body, "device")))
        }
        group.post("agents/:agent/logout") { _, context in
            JSONResponse.make(try await server.agentLogout(context.parameters.require("agent")))
        }
        group.put("agents/:agent/state") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["state", "reason"], in: body)
            let state = try JSONBody.string(body, "state")
            guard state == "available" || state == "makeBusy" else { throw APIError.invalid("state", "available or makeBusy") }
            return JSONResponse.make(try await server.setAgentState(context.parameters.require("agent"), available: state == "available",
                                                                    reason: try JSONBody.optionalString(body, "reason")))
        }
        group.post("agents/:agent/wrap-up/end") { _, context in
            JSONResponse.make(try await server.endWrapUp(context.parameters.require("agent")))
        }
        // Hot desking: the hot-desk users and where they are logged in; log in at a device (the
        // extension whose phone it is) with the PIN; log out.
        group.get("hotdesk") { request, _ in
            if let device = request.uri.queryParameters.get("device") {
                let info = await server.hotDesk(at: device)
                return JSONResponse.make(try info.map { try JSONValue(encoding: $0) } ?? JSONValue.null)
            }
            return JSONResponse.make(await server.hotDesks())
        }
        group.post("hotdesk/:user/login") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["pin", "device"], in: body)
            return JSONResponse.make(try await server.hotDeskLogin(context.parameters.require("user"), pin: try JSONBody.string(body, "pin"),
                                                                   device: try JSONBody.string(body, "device")))
        }
        group.post("hotdesk/:user/logout") { _, context in
            JSONResponse.make(try await server.hotDeskLogout(context.parameters.require("user")))
        }
        // Desktop consoles: which phones are on duty for the attendant; on or off duty.
        group.get("consoles") { _, _ in
            JSONResponse.make(await server.activeConsoles())
        }
        group.get("consoles/:user") { _, context in
            JSONResponse.make(await server.consoleInfo(try context.parameters.require("user")))
        }
        group.put("consoles/:user") { request, context in
            let body = try await JSONBody.object(request)
            try JSONBody.only(["active"], in: body)
            guard let active = body["active"]?.boolValue else { throw APIError.invalid("active", "true or false") }
            return JSONResponse.make(try await server.setConsole(context.parameters.require("user"), active: active))
        }
        group.get("lamps") { _, _ in
            JSONResponse.make(await server.lamps())
        }
        group.get("park") { _, _ in
            JSONResponse.make(await server.parkSlots())
        }
        group.get("paths") { _, _ in
            JSONResponse.make(await server.paths())
        }
        group.get("queue-log") { request, _ in
            let after = try Self.integer(request, "after", default: 0)
            let limit = try Self.integer(request, "limit", default: 500)
            return JSONResponse.make(try server.queueLog(after: after, limit: Int(limit)))
        }
        group.get("cdr") { request, _ in
            let after = try Self.integer(request, "after", default: 0)
            let limit = try Self.integer(request, "limit", default: 100)
            let records = try server.callRecords(after: after, limit: Int(limit))
            return JSONResponse.make(CDRPage(records: records, last: records.last?.sequence ?? after))
        }
        group.ws("events") { request, _ in
            _ = try JSONBody.queryInteger(request, "after")
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let query = context.request.uri.queryParameters
            let after = query.get("after").flatMap { Int64($0) }
            let subscription = server.events.subscribe(after: after, epoch: query.get("epoch"))
            let hello = Hello(epoch: server.events.epoch, sequence: server.events.lastSequence, resumed: after != nil && subscription.complete)
            try await outbound.write(.text(JSONResponse.text(hello)))
            for event in subscription.replay { try await outbound.write(.text(JSONResponse.text(event))) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in subscription.live { try await outbound.write(.text(JSONResponse.text(event))) }
                }
                // Nothing is expected from the consumer; the loop ends when it closes.
                for try await _ in inbound {}
                group.cancelAll()
            }
        }
    }

    struct Status: Encodable {
        var server = "holdfast-pbx"
        var epoch: String
        var sequence: Int64
        var calls: Int
        var eventSubscribers: Int
    }

    /// First message on the event stream. `resumed` false: the events after the consumer's
    /// sequence are not all held (or it asked for none), so it must re-read calls and features.
    struct Hello: Encodable {
        var type = "hello"
        var epoch: String
        var sequence: Int64
        var resumed: Bool
    }

    struct CDRPage: Encodable {
        var records: [CallRecord]
        var last: Int64
    }

    // MARK: - Request parsing, each failure naming the problem

    static func featureChange(_ body: [String: JSONValue]) throws -> CallSettings.Change {
        do {
            return try CallSettings.Change(body)
        } catch {
            guard let expected = error.expected else {
                throw APIError(.badRequest, "unknown_field", "unknown field \(error.field)", details: ["field": error.field])
            }
            throw wrongType(error.field, expected)
        }
    }

    /// Call ids are SIP Call-IDs: percent-encode them in paths.
    static func callID(_ context: BasicWebSocketRequestContext) throws -> String { try decoded(context, "call") }

    static func wrongType(_ field: String, _ expected: String) -> APIError { APIError.invalid(field, expected) }

    static func integer(_ request: Request, _ name: String, default value: Int64) throws -> Int64 {
        try JSONBody.queryInteger(request, name) ?? value
    }
}
