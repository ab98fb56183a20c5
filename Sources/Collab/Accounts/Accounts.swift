// Accounts: bcrypt password hashes, login tokens with expiry (kept durably, so phones stay logged
// in across a server restart), and login rate limiting.

import Crypto
import Foundation
import HummingbirdBcrypt
import Synchronization
import Wire

public struct LoginFailure: Error, Equatable, Sendable {
    public enum Reason: Equatable, Sendable {
        case invalidCredentials
        /// Too many failures: try again after this many seconds.
        case rateLimited(retryAfter: Int)
    }
    public var reason: Reason
}

public final class Accounts: Sendable {
    let store: any CollabStore
    let configuration: CollabConfiguration
    private let failures = Mutex<[String: [Date]]>([:])

    init(store: any CollabStore, configuration: CollabConfiguration) {
        self.store = store
        self.configuration = configuration
    }

    /// Stores a hash for every configured user whose password is new or changed.
    func seed() throws {
        for user in configuration.users {
            if let existing = try store.account(user.extensionNumber), Bcrypt.verify(user.password, hash: existing.passwordHash) { continue }
            try store.saveAccount(StoredAccount(user: user.extensionNumber, passwordHash: Bcrypt.hash(user.password, cost: UInt8(configuration.bcryptCost))))
        }
    }

    /// Checks the password and issues a token. The rate limit counts failures per user name, so a
    /// guesser cannot try more than `loginAttempts` passwords per window whatever address it uses.
    func login(user: String, password: String, now: Date) throws -> (token: String, expiresAt: Date) {
        let window = configuration.loginWindowSeconds
        let recent = failures.withLock { table -> [Date] in
            let kept = (table[user] ?? []).filter { now.timeIntervalSince($0) < window }
            table[user] = kept.isEmpty ? nil : kept
            return kept
        }
        if recent.count >= configuration.loginAttempts, let oldest = recent.first {
            throw LoginFailure(reason: .rateLimited(retryAfter: max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))))
        }
        guard let account = try store.account(user), Bcrypt.verify(password, hash: account.passwordHash) else {
            failures.withLock { $0[user, default: []].append(now) }
            throw LoginFailure(reason: .invalidCredentials)
        }
        failures.withLock { $0[user] = nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: .min ... .max, using: &generator) }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let expiresAt = now.addingTimeInterval(configuration.sessionHours * 3600)
        try store.saveToken(hash: Self.hash(token), user: user, expiresAt: expiresAt)
        return (token, expiresAt)
    }

    /// The user a token belongs to, if it is valid at `now`.
    func user(forToken token: String, now: Date) throws -> String? {
        try store.tokenOwner(hash: Self.hash(token), now: now)
    }

    func logout(token: String) throws {
        try store.deleteToken(hash: Self.hash(token))
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
