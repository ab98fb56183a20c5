// The attendant: calls to its number (0 in the example office) ring every desktop console on duty
// at once, each INVITE marked with why the call came and since when it waits, so a console lists
// its queue; the first console to answer takes the call and the others stop ringing. A user's
// phone goes on or off duty through CTI (the phone, by way of the collaboration server); duty is
// durable, so consoles keep receiving calls with the collaboration server down.

import Foundation
import Wire

extension CallServer {
    /// The call rings the consoles on duty (their phones), for at most `attendant.waitSeconds`.
    func ringConsoles(_ call: Call) async {
        var forks: [RingRound.Fork] = []
        for user in consoles.keys.sorted() {
            for binding in ringingExtension(user).map({ registrar.lookup($0, now: now()) }) ?? [] {
                forks.append(makeFork(call, binding: binding))
                call.attendantDevices[binding.deviceName] = user
            }
        }
        guard !forks.isEmpty else {
            await advance(call, .unanswered(status: 480, reason: "Temporarily Unavailable (no attendant on duty)", outcome: .unavailable))
            return
        }
        events.append(.callRinging(call: call.key, caller: call.caller, callee: call.target, devices: forks.map(\.device)))
        await ring(call, forks: forks, seconds: configuration.attendant?.waitSeconds ?? 300)
    }

    /// Puts `user`'s phone on duty as a desktop console, or off.
    public func setConsole(_ user: String, active: Bool) async throws -> ConsoleInfo {
        guard configuration.attendant != nil else {
            throw ControlError(.conflict, "no_attendant", "this call server has no attendant number (attendant: in its configuration)")
        }
        guard let entry = configuration.user(user), !entry.isHotDesk else {
            throw ControlError(.notFound, "unknown_user", "there is no extension \(user) with a phone", details: ["user": user, "field": "user"])
        }
        let since = active ? (consoles[user] ?? now()) : nil
        consoles[user] = since
        let ticket = store.saveConsole(user, since: since)
        guard await store.durable(through: ticket) else { throw ControlError(.failed, "storage_failed", "the console's duty could not be stored; try again") }
        events.append(.consoleChanged(user: user, active: active))
        logger.info("console", metadata: ["user": "\(user)", "active": "\(active)"])
        return consoleInfo(user)
    }

    public func consoleInfo(_ user: String) -> ConsoleInfo {
        ConsoleInfo(user: user, active: consoles[user] != nil, since: consoles[user].map { Date(timeIntervalSince1970: $0) },
                    attendant: configuration.attendant?.number)
    }

    public func activeConsoles() -> [ConsoleInfo] { consoles.keys.sorted().map(consoleInfo) }

    /// Consoles on duty before a restart (or crash) stay on duty.
    func restoreConsoles() {
        do {
            for (user, since) in try store.activeConsoles() where configuration.user(user) != nil { consoles[user] = since }
        } catch {
            logger.error("stored consoles could not be read", metadata: ["error": "\(error)"])
        }
    }
}
