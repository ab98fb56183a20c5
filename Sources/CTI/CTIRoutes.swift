// The CTI resources: status, features, devices, calls, CDRs, and the event stream.

import CallServer
import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore

struct CTIRoutes: Sendable {
    let server: CallServer

    func add(to group: RouterGroup<BasicWebSocketRequestContext>) {
        group.get("status") { _, _ in
            JSONResponse.make(Status(epoch: server.events.epoch, sequence: server.events.lastSequence,
                                     calls: await server.activeCallCount, eventSubscribers: server.events.subscriberCount))
        }
        group.get("users/:user/features") { _, context in
            JSONResponse.make(try await server.features(of: context.parameters.require("user")).json)
        }
        group.patch("users/:user/features") { request, context in
            let change = try Self.featureChange(try await Self.jsonObject(request))
            return JSONResponse.make(try await server.updateFeatures(of: context.parameters.require("user"), change).json)
        }
        group.get("users/:user/devices") { _, context in
            JSONResponse.make(try await server.devices(of: context.parameters.require("user")))
        }
        group.get("calls") { _, _ in
            JSONResponse.make(await server.liveCalls())
        }
        group.post("calls") { request, _ in
            let body = try await Self.jsonObject(request)
            try Self.only(["from", "to"], in: body)
            let call = try await server.makeCall(from: try Self.string(body, "from"), to: try Self.string(body, "to"))
            return JSONResponse.make(call, status: .created)
        }
        group.delete("calls/:call") { _, context in
            let id = try Self.callID(context)
            try await server.clear(id)
            return JSONResponse.make(["call": id, "cleared": "true"])
        }
        group.post("calls/:call/deflect") { request, context in
            let body = try await Self.jsonObject(request)
            try Self.only(["to"], in: body)
            return JSONResponse.make(try await server.deflect(try Self.callID(context), to: try Self.string(body, "to")))
        }
        group.post("calls/:call/transfer") { request, context in
            let body = try await Self.jsonObject(request)
            try Self.only(["party", "to"], in: body)
            let call = try await server.transfer(try Self.callID(context), party: try Self.string(body, "party"), to: try Self.string(body, "to"))
            return JSONResponse.make(call, status: .accepted)
        }
        group.post("calls/:call/hold") { request, context in
            let body = try await Self.jsonObject(request)
            try Self.only(["party"], in: body)
            return JSONResponse.make(try await server.hold(try Self.callID(context), party: try Self.string(body, "party")))
        }
        group.post("calls/:call/retrieve") { request, context in
            let body = try await Self.jsonObject(request)
            try Self.only(["party"], in: body)
            return JSONResponse.make(try await server.retrieve(try Self.callID(context), party: try Self.string(body, "party")))
        }
        group.post("calls/:call/consult") { request, context in
            let body = try await Self.jsonObject(request)
            try Self.only(["party", "to"], in: body)
            let call = try await server.consult(try Self.callID(context), party: try Self.string(body, "party"), to: try Self.string(body, "to"))
            return JSONResponse.make(call, status: .created)
        }
        group.post("calls/:call/complete") { request, context in
            let body = try await Self.jsonObject(request)
            try Self.only(["party", "consultation"], in: body)
            return JSONResponse.make(try await server.completeTransfer(try Self.callID(context), party: try Self.string(body, "party"),
                                                                       consultation: try Self.string(body, "consultation")))
        }
        group.post("calls/:call/trade") { request, context in
            let body = try await Self.jsonObject(request)
            try Self.only(["party", "with"], in: body)
            return JSONResponse.make(try await server.trade(try Self.callID(context), party: try Self.string(body, "party"), with: try Self.string(body, "with")))
        }
        group.get("callbacks") { _, _ in
            JSONResponse.make(await server.pendingCallbacks())
        }
        group.post("callbacks") { request, _ in
            let body = try await Self.jsonObject(request)
            try Self.only(["from", "to"], in: body)
            return JSONResponse.make(try await server.requestCallback(from: try Self.string(body, "from"), to: try Self.string(body, "to")), status: .created)
        }
        group.delete("callbacks/:callback") { _, context in
            let id = try context.parameters.require("callback")
            try await server.cancelCallback(id)
            return JSONResponse.make(["callback": id, "cancelled": "true"])
        }
        group.get("cdr") { request, _ in
            let after = try Self.integer(request, "after", default: 0)
            let limit = try Self.integer(request, "limit", default: 100)
            let records = try server.callRecords(after: after, limit: Int(limit))
            return JSONResponse.make(CDRPage(records: records, last: records.last?.sequence ?? after))
        }
        group.ws("events") { request, _ in
            _ = try Self.optionalInteger(request, "after")
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

    static func jsonObject(_ request: Request) async throws -> [String: JSONValue] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: 64 * 1024)
        } catch {
            throw CTIError(.contentTooLarge, "body_too_large", "the request body is over 64 KiB")
        }
        guard buffer.readableBytes > 0 else { throw CTIError(.badRequest, "invalid_json", "a JSON object body is required") }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
        } catch {
            throw CTIError(.badRequest, "invalid_json", "the body is not valid JSON")
        }
        guard case .object(let object) = value else { throw CTIError(.badRequest, "invalid_json", "the body must be a JSON object") }
        return object
    }

    static func featureChange(_ body: [String: JSONValue]) throws -> FeatureChange {
        var change = FeatureChange()
        let optionalStrings: [String: WritableKeyPath<FeatureChange, String??>] = [
            "forwardAlways": \.forwardAlways, "forwardBusy": \.forwardBusy, "forwardNoAnswer": \.forwardNoAnswer, "selectedDevice": \.selectedDevice,
        ]
        for (key, value) in body.sorted(by: { $0.key < $1.key }) {
            if let path = optionalStrings[key] {
                switch value {
                case .string(let s): change[keyPath: path] = .some(s)
                case .null: change[keyPath: path] = .some(nil)
                default: throw wrongType(key, "a string, or null to clear it")
                }
                continue
            }
            switch (key, value) {
            case ("doNotDisturb", .bool(let on)): change.doNotDisturb = on
            case ("doNotDisturb", _): throw wrongType(key, "true or false")
            case ("noAnswerSeconds", .int(let n)): change.noAnswerSeconds = .some(Double(n))
            case ("noAnswerSeconds", .double(let n)): change.noAnswerSeconds = .some(n)
            case ("noAnswerSeconds", .null): change.noAnswerSeconds = .some(nil)
            case ("noAnswerSeconds", _): throw wrongType(key, "a number of seconds, or null for the server default")
            default:
                throw CTIError(.badRequest, "unknown_field", "unknown field \(key)", details: ["field": key])
            }
        }
        return change
    }

    static func string(_ body: [String: JSONValue], _ field: String) throws -> String {
        guard let value = body[field] else {
            throw CTIError(.badRequest, "missing_field", "\(field) is required", details: ["field": field])
        }
        guard case .string(let text) = value, !text.isEmpty else { throw wrongType(field, "a non-empty string") }
        return text
    }

    static func only(_ allowed: Set<String>, in body: [String: JSONValue]) throws {
        if let unknown = body.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw CTIError(.badRequest, "unknown_field", "unknown field \(unknown) (expected: \(allowed.sorted().joined(separator: ", ")))", details: ["field": unknown])
        }
    }

    /// Call ids are SIP Call-IDs: percent-encode them in paths.
    static func callID(_ context: BasicWebSocketRequestContext) throws -> String {
        let raw = try context.parameters.require("call")
        return raw.removingPercentEncoding ?? raw
    }

    static func wrongType(_ field: String, _ expected: String) -> CTIError {
        CTIError(.badRequest, "invalid_value", "\(field) must be \(expected)", details: ["field": field])
    }

    static func optionalInteger(_ request: Request, _ name: String) throws -> Int64? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw CTIError(.badRequest, "invalid_value", "\(name) must be a whole number ≥ 0, not \(text)", details: ["field": name])
        }
        return value
    }

    static func integer(_ request: Request, _ name: String, default value: Int64) throws -> Int64 {
        try optionalInteger(request, name) ?? value
    }
}
