// Hot desking as a plain value: which hot-desk user is logged in at which device, and the PIN
// tries that lock a user out for a while. A device is the extension of the phone the user sits at
// (its own registrations ring for the hot-desk user too). Time is passed in; the call server
// keeps one, stores what it says to store and announces what changed (HotDeskControl.swift).

struct HotDesking: Sendable, Equatable {
    struct Login: Sendable, Equatable {
        var device: String
        var since: Double
    }

    enum Refusal: Error, Sendable, Equatable {
        case notHotDesk(String)
        case wrongPIN(user: String, triesLeft: Int)
        case locked(user: String, until: Double)
        /// Another hot-desk user is logged in at that device.
        case deviceTaken(device: String, by: String)
        case notLoggedIn(String)
    }

    enum Action: Sendable, Equatable {
        /// Make the user's login (or logout: nil) durable.
        case save(user: String, device: String?, since: Double)
        /// Announce it; `previous` is the device the user left (it gets a notice).
        case changed(user: String, device: String?, previous: String?)
    }

    /// Each hot-desk user's PIN (from the configuration: the only users a failure is counted for,
    /// so the table is as big as the configuration, whatever is tried).
    let pins: [String: String]
    let maxTries: Int
    let lockSeconds: Double
    private(set) var logins: [String: Login] = [:]
    private var failures: [String: Int] = [:]
    private var lockedUntil: [String: Double] = [:]

    init(pins: [String: String], maxTries: Int = 3, lockSeconds: Double = 300) {
        self.pins = pins
        self.maxTries = maxTries
        self.lockSeconds = lockSeconds
    }

    func device(of user: String) -> String? { logins[user]?.device }

    /// The hot-desk user logged in at `device`, if any.
    func user(at device: String) -> String? { logins.first { $0.value.device == device }?.key }

    /// A login read back at start (the store had it).
    mutating func restore(_ user: String, device: String, since: Double) {
        guard pins[user] != nil else { return }
        logins[user] = Login(device: device, since: since)
    }

    /// Logs `user` in at `device` with `pin`. Logged in elsewhere, it moves (the first device is
    /// told); at a device another hot-desk user holds, refused.
    mutating func login(_ user: String, pin: String, at device: String, now: Double) -> Result<[Action], Refusal> {
        guard let expected = pins[user] else { return .failure(.notHotDesk(user)) }
        if let until = lockedUntil[user] {
            guard now >= until else { return .failure(.locked(user: user, until: until)) }
            lockedUntil[user] = nil
        }
        guard pin == expected else {
            let count = failures[user, default: 0] + 1
            guard count < maxTries else {
                failures[user] = nil
                lockedUntil[user] = now + lockSeconds
                return .failure(.locked(user: user, until: now + lockSeconds))
            }
            failures[user] = count
            return .failure(.wrongPIN(user: user, triesLeft: maxTries - count))
        }
        if let holder = self.user(at: device), holder != user { return .failure(.deviceTaken(device: device, by: holder)) }
        failures[user] = nil
        let previous = logins[user]?.device
        logins[user] = Login(device: device, since: now)
        return .success([.save(user: user, device: device, since: now),
                         .changed(user: user, device: device, previous: previous == device ? nil : previous)])
    }

    mutating func logout(_ user: String) -> Result<[Action], Refusal> {
        guard pins[user] != nil else { return .failure(.notHotDesk(user)) }
        guard let login = logins.removeValue(forKey: user) else { return .failure(.notLoggedIn(user)) }
        return .success([.save(user: user, device: nil, since: 0), .changed(user: user, device: nil, previous: login.device)])
    }

    /// A wrong PIN's log line (the attempt's source is the device).
    static func logLine(_ refusal: Refusal, device: String) -> String? {
        switch refusal {
        case .wrongPIN(let user, let left): "hot desk: wrong PIN for \(user) at \(device), \(left) tries left"
        case .locked(let user, _): "hot desk: \(user) locked after wrong PINs (last at \(device))"
        default: nil
        }
    }
}
