// Accounts: bcrypt password hashes, login tokens with expiry (kept durably, so phones stay logged
// in across a server restart), and login rate limiting per address and per account from an
// address, in bounded memory.

import Crypto
import Foundation
import HummingbirdBcrypt
import Synchronization
import Throttle
import Wire

public struct LoginFailure: Error, Equatable, Sendable {
    public enum Reason: Equatable, Sendable {
        case invalidCredentials
        /// Too many failures: try again after this many seconds.
        case rateLimited(retryAfter: Int)
    }
    public var reason: Reason
    /// This failure was the one that brought the limit on (for one log line, not one per guess).
    public var limitReached = false
}

public final class Accounts: Sendable {
    let store: any CollabStore
    let configuration: CollabConfiguration
    /// Recent failures per source address, and per account and address (accounts that exist
    /// only, so made-up names cost nothing); each table holds at most `FailureTable.capacity` keys
    /// (the same table the call server's digest bans count with).
    private let failures = Mutex(FailureTables())
    /// A hash of the configured cost that no password matches: an unknown user costs a bcrypt
    /// verification too, so the time taken does not tell which users exist.
    private let decoy: String

    struct FailureTables {
        var byAddress = FailureTable()
        var byAccount = FailureTable()
    }

    init(store: any CollabStore, configuration: CollabConfiguration) {
        self.store = store
        self.configuration = configuration
        decoy = Bcrypt.hash(UUID().uuidString + UUID().uuidString, cost: UInt8(configuration.bcryptCost))
    }

    /// Stores a hash for every configured user whose password is new or changed.
    func seed() throws {
        for user in configuration.users {
            if let existing = try store.account(user.extensionNumber), Bcrypt.verify(user.password, hash: existing.passwordHash) { continue }
            try store.saveAccount(StoredAccount(user: user.extensionNumber, passwordHash: Bcrypt.hash(user.password, cost: UInt8(configuration.bcryptCost))))
        }
    }

    /// How many failures an address may make in a window, over all the accounts it tries.
    var addressAttempts: Int { configuration.loginAttempts * 4 }

    /// Checks the password and issues a token. Failures are counted per source address (over
    /// every user it tries) and per account from that address: a guesser is stopped after
    /// `loginAttempts` passwords for one account, or four times as many over all, per window; the
    /// real user, from another address, is not locked out by someone else's guesses.
    func login(user: String, password: String, address: String, now: Date) throws -> (token: String, expiresAt: Date) {
        let window = configuration.loginWindowSeconds
        let pair = user + "@" + address
        let seconds = now.timeIntervalSince1970
        let limited = failures.withLock { tables -> Double? in
            let byAddress = tables.byAddress.recent(address, now: seconds, window: window)
            let byAccount = tables.byAccount.recent(pair, now: seconds, window: window)
            if byAddress.count >= addressAttempts { return byAddress.first }
            if byAccount.count >= configuration.loginAttempts { return byAccount.first }
            return nil
        }
        if let oldest = limited {
            throw LoginFailure(reason: .rateLimited(retryAfter: max(1, Int((window - (seconds - oldest)).rounded(.up)))))
        }
        let account = try store.account(user)
        // The same work whether or not the user exists.
        let verified = Bcrypt.verify(password, hash: account?.passwordHash ?? decoy) && account != nil
        guard verified else {
            let reached = failures.withLock { tables -> Bool in
                tables.byAddress.add(address, now: seconds)
                if account != nil { tables.byAccount.add(pair, now: seconds) }
                return tables.byAddress.recent(address, now: seconds, window: window).count == addressAttempts
                    || (account != nil && tables.byAccount.recent(pair, now: seconds, window: window).count == configuration.loginAttempts)
            }
            throw LoginFailure(reason: .invalidCredentials, limitReached: reached)
        }
        failures.withLock { $0.byAccount.remove(pair) }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: .min ... .max, using: &generator) }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let expiresAt = now.addingTimeInterval(configuration.sessionHours * 3600)
        try store.saveToken(hash: Self.hash(token), user: user, expiresAt: expiresAt)
        return (token, expiresAt)
    }

    /// Keys currently counted (for tests and metrics): the tables stay bounded whatever arrives.
    var failureKeys: Int { failures.withLock { $0.byAddress.count + $0.byAccount.count } }

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
