// The requests a phone sends on its session (docs/protocol.md): each is checked field by field
// and answered with a result or an error that names the problem.

import CTILink
import Foundation
import HTTPJSON
import Wire

struct Requests: Sendable {
    let core: CollabCore

    /// Answers one request of `user`. Errors are `APIError`s (their code, message and field go to the phone).
    func handle(_ method: String, _ params: [String: JSONValue], user: String) async throws -> JSONValue {
        let p = params
        guard let known = CollabMethod(rawValue: method) else {
            throw APIError(.notFound, "unknown_method", "there is no method \(method)", details: ["field": "method"])
        }
        switch known {
        case .presenceList:
            try JSONBody.only([], in: p)
            return try JSONValue(encoding: await core.hub.allPresence)
        case .presenceSet:
            try JSONBody.only(["state", "note"], in: p)
            let text = try JSONBody.string(p, "state")
            guard let state = PresenceState(rawValue: text), state != .offline else {
                throw APIError.invalid("state", "one of available, away, busy, doNotDisturb")
            }
            // A note goes to everyone who sees this user's presence: a line, not a document.
            let note: String?? = p.keys.contains("note") ? .some(try JSONBody.optionalString(p, "note", maxLength: Self.noteLength)) : .none
            return try JSONValue(encoding: try await core.hub.setPresence(user, state: state, note: note))

        case .chatSend:
            try JSONBody.only(["to", "text"], in: p)
            let to = try core.knownUser(JSONBody.string(p, "to"), field: "to")
            let text = try JSONBody.string(p, "text")
            guard text.utf8.count <= 16 * 1024 else { throw APIError.invalid("text", "at most 16 KiB") }
            return try JSONValue(encoding: try await core.sendChat(from: user, to: to, text: text))
        case .chatRead:
            try JSONBody.only(["with", "upTo"], in: p)
            let peer = try core.knownUser(JSONBody.string(p, "with"), field: "with")
            guard let upTo = try JSONBody.optionalInteger(p, "upTo", in: 1...Int64.max) else { throw APIError.missing("upTo") }
            let updated = try await core.markRead(reader: user, peer: peer, upTo: upTo)
            return .object(["updated": .int(Int64(updated))])
        case .chatHistory:
            try JSONBody.only(["with", "before", "limit"], in: p)
            let peer = try core.knownUser(JSONBody.string(p, "with"), field: "with")
            let before = try JSONBody.optionalInteger(p, "before", in: 1...Int64.max)
            let limit = try JSONBody.optionalInteger(p, "limit", in: 1...200) ?? 50
            return try JSONValue(encoding: try core.store.chatHistory(user: user, peer: peer, before: before, limit: Int(limit)))

        case .directorySearch:
            try JSONBody.only(["query"], in: p)
            let query = try JSONBody.optionalString(p, "query") ?? ""
            return try JSONValue(encoding: core.directory.entries.filter { DirectorySearch.matches(name: $0.name, number: $0.number, query: query) })
        case .contactsList:
            try JSONBody.only([], in: p)
            return try JSONValue(encoding: try core.store.contacts(of: user))
        case .contactsSearch:
            try JSONBody.only(["query"], in: p)
            let query = try JSONBody.optionalString(p, "query") ?? ""
            return try JSONValue(encoding: try core.store.contacts(of: user).filter { DirectorySearch.matches(name: $0.name, number: $0.number, query: query) })
        case .contactsAdd:
            try JSONBody.only(["name", "number", "note"], in: p)
            guard try core.store.contacts(of: user).count < Self.maxContacts else {
                throw APIError(.conflict, "too_many_contacts", "a user keeps at most \(Self.maxContacts) contacts; remove one first")
            }
            let contact = try core.store.addContact(owner: user, name: try JSONBody.string(p, "name", maxLength: Self.nameLength), number: try Self.number(p, "number"),
                                                    note: try JSONBody.optionalString(p, "note", maxLength: Self.noteLength), at: core.now())
            await core.hub.publish(.contactsChanged, ["added": try JSONValue(encoding: contact)], to: [user])
            return try JSONValue(encoding: contact)
        case .contactsUpdate:
            try JSONBody.only(["id", "name", "number", "note"], in: p)
            guard let id = try JSONBody.optionalInteger(p, "id", in: 1...Int64.max) else { throw APIError.missing("id") }
            let name = p["name"] == nil ? nil : try JSONBody.string(p, "name", maxLength: Self.nameLength)
            let number = p["number"] == nil ? nil : try Self.number(p, "number")
            let note: String?? = p.keys.contains("note") ? .some(try JSONBody.optionalString(p, "note", maxLength: Self.noteLength)) : .none
            guard let contact = try core.store.updateContact(owner: user, id: id, name: name, number: number, note: note, at: core.now()) else {
                throw APIError(.notFound, "unknown_contact", "there is no contact \(id)", details: ["field": "id"])
            }
            await core.hub.publish(.contactsChanged, ["updated": try JSONValue(encoding: contact)], to: [user])
            return try JSONValue(encoding: contact)
        case .contactsDelete:
            try JSONBody.only(["id"], in: p)
            guard let id = try JSONBody.optionalInteger(p, "id", in: 1...Int64.max) else { throw APIError.missing("id") }
            guard try core.store.deleteContact(owner: user, id: id) else {
                throw APIError(.notFound, "unknown_contact", "there is no contact \(id)", details: ["field": "id"])
            }
            await core.hub.publish(.contactsChanged, ["deleted": .int(id)], to: [user])
            return .object(["deleted": .int(id)])

        case .historyList:
            try JSONBody.only(["kind", "before", "limit"], in: p)
            let kind = try JSONBody.optionalString(p, "kind").map { text in
                guard let kind = HistoryEntry.Kind(rawValue: text) else { throw APIError.invalid("kind", "one of outgoing, answered, missed") }
                return kind
            }
            let before = try JSONBody.optionalInteger(p, "before", in: 1...Int64.max)
            let limit = try JSONBody.optionalInteger(p, "limit", in: 1...200) ?? 50
            return try JSONValue(encoding: try core.store.history(user: user, kind: kind, before: before, limit: Int(limit)))

        case .settingsGet:
            try JSONBody.only([], in: p)
            return try await core.cti.request("GET", "users/\(user)/features")
        case .settingsSet:
            try JSONBody.only(CallSettings.fields, in: p)
            guard !p.isEmpty else { throw APIError(.badRequest, "missing_field", "name at least one setting to change") }
            return try await core.cti.request("PATCH", "users/\(user)/features", body: p)
        case .devicesList:
            try JSONBody.only([], in: p)
            return try await core.cti.request("GET", "users/\(user)/devices")

        case .dialingApply:
            try JSONBody.only(["number"], in: p)
            return .object(["number": .string(try core.dial(try JSONBody.string(p, "number"), field: "number"))])
        case .callMake:
            try JSONBody.only(["to", "device"], in: p)
            let to = try core.dial(try JSONBody.string(p, "to"), field: "to")
            var body: [String: JSONValue] = ["from": .string(user), "to": .string(to)]
            if let device = try JSONBody.optionalString(p, "device") { body["device"] = .string(device) }
            return try await core.cti.request("POST", "calls", body: body)
        case .callRedirect:
            try JSONBody.only(["call", "to"], in: p)
            let to = try core.dial(try JSONBody.string(p, "to"), field: "to")
            // Only a call ringing this user can be redirected by this user.
            return try await core.cti.request("POST", "calls/\(CTIClient.pathComponent(try JSONBody.string(p, "call")))/deflect",
                                              body: ["to": .string(to), "party": .string(user)])
        case .callTransfer:
            try JSONBody.only(["call", "to", "consultation"], in: p)
            let call = CTIClient.pathComponent(try JSONBody.string(p, "call"))
            if let consultation = try JSONBody.optionalString(p, "consultation") {
                return try await core.cti.request("POST", "calls/\(call)/complete", body: ["party": .string(user), "consultation": .string(consultation)])
            }
            let to = try core.dial(try JSONBody.string(p, "to"), field: "to")
            return try await core.cti.request("POST", "calls/\(call)/transfer", body: ["party": .string(user), "to": .string(to)])
        case .callConsult:
            try JSONBody.only(["call", "to"], in: p)
            let to = try core.dial(try JSONBody.string(p, "to"), field: "to")
            return try await core.cti.request("POST", "calls/\(CTIClient.pathComponent(try JSONBody.string(p, "call")))/consult",
                                              body: ["party": .string(user), "to": .string(to)])
        case .callTrade:
            try JSONBody.only(["call", "with"], in: p)
            return try await core.cti.request("POST", "calls/\(CTIClient.pathComponent(try JSONBody.string(p, "call")))/trade",
                                              body: ["party": .string(user), "with": .string(try JSONBody.string(p, "with"))])
        case .callConference:
            try JSONBody.only(["call", "with"], in: p)
            return try await core.cti.request("POST", "calls/\(CTIClient.pathComponent(try JSONBody.string(p, "call")))/conference",
                                              body: ["party": .string(user), "with": .string(try JSONBody.string(p, "with"))])
        case .callCallback:
            try JSONBody.only(["to"], in: p)
            let to = try core.knownUser(JSONBody.string(p, "to"), field: "to")
            return try await core.cti.request("POST", "callbacks", body: ["from": .string(user), "to": .string(to)])

        case .loginNotifyAdd:
            try JSONBody.only(["user"], in: p)
            let target = try core.knownUser(JSONBody.string(p, "user"), field: "user")
            guard target != user else { throw APIError(.unprocessableContent, "invalid_value", "you cannot watch yourself", details: ["field": "user"]) }
            try core.store.addLoginNotify(watcher: user, target: target)
            return .object(["watching": .array(try core.store.loginNotifyTargets(of: user).map(JSONValue.string))])
        case .loginNotifyRemove:
            try JSONBody.only(["user"], in: p)
            try core.store.removeLoginNotify(watcher: user, target: try JSONBody.string(p, "user"))
            return .object(["watching": .array(try core.store.loginNotifyTargets(of: user).map(JSONValue.string))])
        case .loginNotifyList:
            try JSONBody.only([], in: p)
            return .object(["watching": .array(try core.store.loginNotifyTargets(of: user).map(JSONValue.string))])

        case .recordingsList:
            try JSONBody.only([], in: p)
            return try JSONValue(encoding: try core.store.recordings(of: user))

        case .acdLogin:
            try JSONBody.only(["agent"], in: p)
            let agent = try JSONBody.string(p, "agent")
            guard !agent.isEmpty, agent.allSatisfy(\.isNumber) else { throw APIError.invalid("agent", "an agent ID (digits)") }
            let info = try await core.cti.request("POST", "agents/\(agent)/login", body: ["device": .string(user)])
            return try JSONValue(encoding: try await agentStatus(info))
        case .acdLogout:
            try JSONBody.only([], in: p)
            let agent = try await agentOf(user)
            return try JSONValue(encoding: try await agentStatus(try await core.cti.request("POST", "agents/\(agent)/logout")))
        case .acdState:
            try JSONBody.only(["state", "reason"], in: p)
            let agent = try await agentOf(user)
            var body: [String: JSONValue] = ["state": .string(try JSONBody.string(p, "state"))]
            if let reason = try JSONBody.optionalString(p, "reason") { body["reason"] = .string(reason) }
            return try JSONValue(encoding: try await agentStatus(try await core.cti.request("PUT", "agents/\(agent)/state", body: body)))
        case .acdEndWrapUp:
            try JSONBody.only([], in: p)
            let agent = try await agentOf(user)
            return try JSONValue(encoding: try await agentStatus(try await core.cti.request("POST", "agents/\(agent)/wrap-up/end")))
        case .acdStatus:
            try JSONBody.only([], in: p)
            guard let info = try await loggedInAgent(user) else { return .null }
            return try JSONValue(encoding: try await agentStatus(info))

        case .hotDeskLogin:
            try JSONBody.only(["user", "pin"], in: p)
            let hotDesk = try JSONBody.string(p, "user"), pin = try JSONBody.string(p, "pin")
            guard !hotDesk.isEmpty, hotDesk.count <= 16, hotDesk.allSatisfy(\.isNumber) else { throw APIError.invalid("user", "a hot-desk extension (digits)") }
            guard !pin.isEmpty, pin.count <= 16, pin.allSatisfy(\.isNumber) else { throw APIError.invalid("pin", "the PIN's digits") }
            return try JSONValue(encoding: try await core.cti.request("POST", "hotdesk/\(hotDesk)/login", body: ["pin": .string(pin), "device": .string(user)])
                .decode(HotDeskInfo.self))
        case .hotDeskLogout:
            try JSONBody.only([], in: p)
            guard let info = try await hotDesk(at: user) else { throw APIError(.conflict, "not_logged_in", "no hot-desk user is logged in at \(user)'s phone") }
            return try JSONValue(encoding: try await core.cti.request("POST", "hotdesk/\(info.user)/logout").decode(HotDeskInfo.self))
        case .consoleSet:
            try JSONBody.only(["active"], in: p)
            guard let active = p["active"]?.boolValue else { throw APIError.invalid("active", "true or false") }
            return try await core.cti.request("PUT", "consoles/\(user)", body: ["active": .bool(active)])
        case .consoleStatus:
            try JSONBody.only([], in: p)
            return try await core.cti.request("GET", "consoles/\(user)")
        case .consoleLamps:
            try JSONBody.only([], in: p)
            return try await core.cti.request("GET", "lamps")
        case .hotDeskStatus:
            try JSONBody.only([], in: p)
            return try await hotDesk(at: user).map { try JSONValue(encoding: $0) } ?? .null

        case .voicemailList:
            try JSONBody.only([], in: p)
            return try await core.cti.request("GET", "users/\(user)/voicemail")
        case .voicemailMove:
            try JSONBody.only(["id", "folder"], in: p)
            let id = try Self.messageID(p)
            guard let folder = VoicemailFolder(rawValue: try JSONBody.string(p, "folder")) else {
                throw APIError.invalid("folder", "one of INBOX, Old, Saved")
            }
            return try await core.cti.request("PATCH", "users/\(user)/voicemail/\(id)", body: ["folder": .string(folder.rawValue)])
        case .voicemailDelete:
            try JSONBody.only(["id"], in: p)
            return try await core.cti.request("DELETE", "users/\(user)/voicemail/\(try Self.messageID(p))")

        }
    }

    static func messageID(_ p: [String: JSONValue]) throws -> Int64 {
        guard case .int(let id)? = p["id"], id > 0 else { throw APIError.invalid("id", "a message id (a positive number)") }
        return id
    }

    /// Longest presence or contact note, contact name, and number accepted (characters).
    static let noteLength = 256, nameLength = 128, numberLength = 64
    /// Contacts one user may keep.
    static let maxContacts = 1000

    static func number(_ p: [String: JSONValue], _ field: String) throws -> String {
        let number = try JSONBody.string(p, field, maxLength: numberLength)
        guard number.allSatisfy({ $0.isNumber || " +-().*#/".contains($0) }), number.contains(where: \.isNumber) else {
            throw APIError.invalid(field, "a phone number (digits, spaces, + - ( ) . / * #)")
        }
        return number
    }

    // MARK: - Contact center

    /// The agent logged in at `user`'s phone, as the call server shows it (nil: none).
    private func loggedInAgent(_ user: String) async throws -> JSONValue? {
        let agents = try await core.cti.request("GET", "agents").arrayValue ?? []
        return agents.first { (try? $0.decode(AgentInfo.self))?.device == user }
    }

    /// The agent ID logged in at `user`'s phone; a user who is no agent logged in is refused.
    /// The hot-desk user logged in at `user`'s phone, as the call server has it.
    private func hotDesk(at user: String) async throws -> HotDeskInfo? {
        let reply = try await core.cti.request("GET", "hotdesk?device=\(user)")
        if case .null = reply { return nil }
        return try reply.decode(HotDeskInfo.self)
    }

    private func agentOf(_ user: String) async throws -> String {
        guard let agent = try await loggedInAgent(user).flatMap({ try? $0.decode(AgentInfo.self) })?.agent else {
            throw APIError(.conflict, "not_an_agent", "no agent is logged in at \(user)'s phone")
        }
        return agent
    }

    /// The call server's agent, checked, to pass on to the phone.
    private func agentStatus(_ reply: JSONValue) async throws -> AgentInfo {
        guard let agent = try? reply.decode(AgentInfo.self) else {
            throw APIError(.internalServerError, "internal", "the call server's agent reply could not be read")
        }
        return agent
    }
}
