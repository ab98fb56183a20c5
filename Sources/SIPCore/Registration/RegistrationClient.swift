// The registration client (RFC 3261 §10.2): REGISTER, answer 401/407 challenges, refresh before
// expiry, retry with backoff, un-REGISTER. Pure: time and randomness come from the caller.

import SIPMessage

/// Computes an Authorization / Proxy-Authorization value for a challenge (digest math lives in SIPAuth).
public protocol RegistrationAuthenticator: Sendable {
    /// `challenge` is the WWW-Authenticate or Proxy-Authenticate value; nil if it cannot be answered.
    func authorization(challenge: String, method: SIPMethod, uri: String) -> String?
}

public struct RegistrationClient: Sendable {
    public struct Configuration: Sendable {
        public var registrar: SIPURI
        public var addressOfRecord: SIPURI
        public var contact: NameAddress
        public var requestedExpiry: UInt32 = 3600
        /// Refresh this long before expiry at the latest (and never later than half-way).
        public var refreshMargin: Duration = .seconds(30)
        public var retryBase: Duration = .seconds(1)
        public var retryCap: Duration = .seconds(60)
        public var callID: String
        public var fromTag: String

        public init(registrar: SIPURI, addressOfRecord: SIPURI, contact: NameAddress, callID: String, fromTag: String) {
            self.registrar = registrar
            self.addressOfRecord = addressOfRecord
            self.contact = contact
            self.callID = callID
            self.fromTag = fromTag
        }
    }

    public enum State: Sendable, Equatable {
        case idle, registering, registered(expires: UInt32), unregistering, unregistered, failed(String)
    }

    public enum Action: Sendable, Equatable {
        /// Send this REGISTER (in a new client transaction).
        case send(SIPRequest)
        case registered(expires: UInt32)
        case scheduleRefresh(after: Duration)
        case failed(reason: String)
        case scheduleRetry(after: Duration)
        case unregistered
    }

    public private(set) var state: State = .idle
    public var configuration: Configuration
    private let authenticator: any RegistrationAuthenticator
    private var sequence: UInt32 = 0
    private var expiryInFlight: UInt32 = 0
    /// Challenges answered in this REGISTER cycle (a cycle: register, refresh, or un-register).
    private var challengesAnswered = 0
    private var authorization: (header: HeaderName, value: String)?
    private var failures = 0

    public init(configuration: Configuration, authenticator: any RegistrationAuthenticator) {
        self.configuration = configuration
        self.authenticator = authenticator
    }

    public mutating func start() -> [Action] {
        state = .registering
        beginCycle()
        return [.send(makeRegister(expires: configuration.requestedExpiry))]
    }

    /// Each cycle starts without credentials: registrars hand out fresh nonces, and an old
    /// nonce would only be refused (or taken for a replay).
    private mutating func beginCycle() {
        challengesAnswered = 0
        authorization = nil
    }

    /// Timer for refresh or retry fired.
    public mutating func timerFired() -> [Action] {
        switch state {
        case .registered, .failed, .registering: return start()
        default: return []
        }
    }

    /// The transaction failed (timeout or transport error).
    public mutating func transactionFailed(_ reason: String) -> [Action] {
        if state == .unregistering { state = .unregistered; return [.unregistered] }
        return fail(reason)
    }

    public mutating func stop() -> [Action] {
        guard state != .idle, state != .unregistered else { return [] }
        state = .unregistering
        beginCycle()
        return [.send(makeRegister(expires: 0))]
    }

    public mutating func receive(_ response: SIPResponse) -> [Action] {
        guard response.cseq?.sequence == sequence, response.cseq?.method == .register else { return [] }
        switch response.statusCode {
        case 100..<200:
            return []
        case 200..<300:
            failures = 0
            if state == .unregistering || expiryInFlight == 0 {
                state = .unregistered
                return [.unregistered]
            }
            let granted = grantedExpiry(response)
            state = .registered(expires: granted)
            return [.registered(expires: granted), .scheduleRefresh(after: refreshDelay(granted))]
        case 401, 407:
            let header: HeaderName = response.statusCode == 401 ? .wwwAuthenticate : .proxyAuthenticate
            let answer: HeaderName = response.statusCode == 401 ? .authorization : .proxyAuthorization
            let challenges = response.headers.values(header)
            let stale = challenges.contains { $0.lowercased().contains("stale=true") }
            // A challenge to credentials we just sent means they were refused, unless the nonce
            // merely went stale (RFC 7616 §3.3); three rounds at most.
            guard challengesAnswered == 0 || (stale && challengesAnswered < 3) else {
                return fail("registrar rejected the credentials (\(response.statusCode) \(response.reasonPhrase))")
            }
            let uri = configuration.registrar.description
            let authenticator = self.authenticator
            guard let value = challenges.lazy.compactMap({ authenticator.authorization(challenge: $0, method: .register, uri: uri) }).first else {
                return fail("cannot answer the registrar's challenge (\(response.statusCode))")
            }
            challengesAnswered += 1
            authorization = (answer, value)
            return [.send(makeRegister(expires: expiryInFlight))]
        case 423:
            // §10.2.8: Interval Too Brief: retry with the registrar's minimum.
            guard let minimum = response.headers[.minExpires].flatMap({ UInt32(String($0.filter { $0 != " " })) }),
                  minimum > expiryInFlight else { return fail("423 without a usable Min-Expires") }
            configuration.requestedExpiry = minimum
            return [.send(makeRegister(expires: minimum))]
        default:
            if state == .unregistering { state = .unregistered; return [.unregistered] }
            return fail("\(response.statusCode) \(response.reasonPhrase)")
        }
    }

    private mutating func fail(_ reason: String) -> [Action] {
        failures += 1
        state = .failed(reason)
        authorization = nil
        // Exponential backoff from retryBase, capped.
        var delay = configuration.retryBase
        for _ in 1..<min(failures, 16) { delay = delay * 2 }
        return [.failed(reason: reason), .scheduleRetry(after: min(delay, configuration.retryCap))]
    }

    /// The expiry the registrar granted our contact: its `expires` parameter, else Expires.
    func grantedExpiry(_ response: SIPResponse) -> UInt32 {
        let ours = response.contacts.first { contact in
            if case .sip(let mine) = configuration.contact.uri, case .sip(let theirs) = contact.uri { return mine.isEquivalent(to: theirs) }
            return false
        }
        if let value = ours?.parameters["expires"], let seconds = UInt32(value) { return seconds }
        return response.expires ?? expiryInFlight
    }

    /// Refresh at the earlier of half the expiry and expiry minus the margin (never below 1 s).
    func refreshDelay(_ expiry: UInt32) -> Duration {
        let half = Duration.seconds(Int(expiry)) / 2
        let margin = Duration.seconds(Int(expiry)) - configuration.refreshMargin
        return max(.seconds(1), min(half, margin))
    }

    private mutating func makeRegister(expires: UInt32) -> SIPRequest {
        sequence += 1
        expiryInFlight = expires
        var headers = SIPHeaders()
        let aor = NameAddress(uri: configuration.addressOfRecord)
        var from = aor
        from.tag = configuration.fromTag
        headers.add(.maxForwards, "70")
        headers.add(.from, from.description)
        headers.add(.to, aor.description)
        headers.add(.callID, configuration.callID)
        headers.add(.cseq, CSeq(sequence, .register).description)
        var contact = configuration.contact
        contact.parameters["expires"] = String(expires)
        headers.add(.contact, contact.description)
        headers.add(.expires, String(expires))
        if let authorization { headers.add(authorization.header, authorization.value) }
        return SIPRequest(method: .register, uri: .sip(configuration.registrar), headers: headers)
    }

    static func nonce(of challenge: String) -> String? {
        let bytes = Array(challenge.utf8)
        let key = Array("nonce=\"".utf8)
        guard bytes.count > key.count else { return nil }
        for start in 0...(bytes.count - key.count) where bytes[start..<(start + key.count)].elementsEqual(key) {
            let valueStart = start + key.count
            guard let end = bytes[valueStart...].firstIndex(of: 0x22) else { return nil }
            return String(decoding: bytes[valueStart..<end], as: UTF8.self)
        }
        return nil
    }
}
