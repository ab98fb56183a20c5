// Hot desking inside the call server: logins through CTI (the phone, by way of the collaboration
// server) and by feature code from any SIP phone (`*1` + extension + `#` + PIN + `#`, `*2` to log
// out); durable, announced as CTI events; and the routing that follows a logged-in user to the
// phone it sits at. The HotDesking value decides; this runs what it decides.

import Foundation
import Wire

extension CallServer {
    /// Logs hot-desk `user` in at the phone of extension `device`.
    public func hotDeskLogin(_ user: String, pin: String, device: String) async throws -> HotDeskInfo {
        guard let host = configuration.user(device), !host.isHotDesk else {
            throw ControlError(.invalid, "invalid_value", "device: there is no extension \(device) with a phone to log in at", details: ["field": "device"])
        }
        switch hotDesking.login(user, pin: pin, at: device, now: now()) {
        case .success(let actions): try await runHotDesk(actions)
        case .failure(let refusal):
            if let line = HotDesking.logLine(refusal, device: device) { logger.warning("\(line)") }
            throw Self.refusal(refusal)
        }
        return hotDeskInfo(user)
    }

    public func hotDeskLogout(_ user: String) async throws -> HotDeskInfo {
        switch hotDesking.logout(user) {
        case .success(let actions): try await runHotDesk(actions)
        case .failure(let refusal): throw Self.refusal(refusal)
        }
        return hotDeskInfo(user)
    }

    /// Every hot-desk user with where it is logged in.
    public func hotDesks() -> [HotDeskInfo] {
        configuration.users.filter(\.isHotDesk).map { hotDeskInfo($0.extensionNumber) }
    }

    /// The hot-desk user logged in at `device`'s phone, if any.
    public func hotDesk(at device: String) -> HotDeskInfo? {
        hotDesking.user(at: device).map(hotDeskInfo)
    }

    func hotDeskInfo(_ user: String) -> HotDeskInfo {
        let login = hotDesking.logins[user]
        return HotDeskInfo(user: user, name: configuration.user(user)?.name ?? user, loggedIn: login != nil, device: login?.device,
                           since: login.map { Date(timeIntervalSince1970: $0.since) })
    }

    /// A change is durable before the request that made it is answered.
    private func runHotDesk(_ actions: [HotDesking.Action]) async throws {
        var tickets: [UInt64] = []
        for action in actions {
            switch action {
            case .save(let user, let device, let since):
                tickets.append(store.saveHotDesk(user, device: device, since: since))
            case .changed(let user, let device, let previous):
                events.append(.hotDeskChanged(user: user, device: device, previous: previous))
                logger.info("hot desk", metadata: ["user": "\(user)", "device": "\(device ?? "-")", "left": "\(previous ?? "-")"])
            }
        }
        for ticket in tickets where !(await store.durable(through: ticket)) {
            throw ControlError(.failed, "storage_failed", "the hot-desk change could not be stored; try again")
        }
    }

    static func refusal(_ refusal: HotDesking.Refusal) -> ControlError {
        switch refusal {
        case .notHotDesk(let user):
            ControlError(.notFound, "not_hot_desk", "\(user) is not a hot-desk user", details: ["user": user, "field": "user"])
        case .wrongPIN(let user, let left):
            ControlError(.invalid, "wrong_pin", "that is not \(user)'s PIN (\(left) more tries before a lock)", details: ["user": user, "field": "pin"])
        case .locked(let user, let until):
            ControlError(.conflict, "locked", "\(user) is locked after wrong PINs until \(Date(timeIntervalSince1970: until).formatted(.iso8601))",
                         details: ["user": user])
        case .deviceTaken(let device, let holder):
            ControlError(.conflict, "device_in_use", "\(holder) is logged in at \(device)'s phone; log out there first", details: ["device": device, "user": holder])
        case .notLoggedIn(let user):
            ControlError(.conflict, "not_logged_in", "\(user) is not logged in anywhere", details: ["user": user])
        }
    }

    /// Logins made before a restart (or crash) stay.
    func restoreHotDesks() {
        do {
            for (user, login) in try store.hotDeskLogins() { hotDesking.restore(user, device: login.device, since: login.since) }
        } catch {
            logger.error("stored hot-desk logins could not be read", metadata: ["error": "\(error)"])
        }
    }

    /// The extension whose devices ring for `user`: its own, or for a hot-desk user the phone it
    /// is logged in at (nil: logged out, nothing rings).
    func ringingExtension(_ user: String) -> String? {
        guard configuration.user(user)?.isHotDesk == true else { return user }
        return hotDesking.device(of: user)
    }

    // MARK: - Feature codes

    /// `*1` + extension + `#` + PIN + `#` from the phone of `caller`: what to tell the caller.
    func hotDeskCode(_ code: HotDeskCode, caller: String) async -> [String] {
        do {
            switch code {
            case .login(let user, let pin):
                let info = try await hotDeskLogin(user, pin: pin, device: caller)
                return ["hotdesk-logged-in"] + info.user.map { "n\($0)" }
            case .logout:
                guard let user = hotDesking.user(at: caller) else { return ["hotdesk-nobody"] }
                _ = try await hotDeskLogout(user)
                return ["hotdesk-logged-out"]
            }
        } catch let error as ControlError {
            switch error.code {
            case "locked": return ["hotdesk-locked"]
            case "device_in_use": return ["hotdesk-in-use"]
            default: return ["hotdesk-login-failed"]
            }
        } catch {
            return ["hotdesk-login-failed"]
        }
    }
}
