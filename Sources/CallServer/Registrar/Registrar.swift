// The registrar (RFC 3261 §10.3): bindings per address-of-record with expiry, several contacts,
// un-REGISTER and `Contact: *`, Path (RFC 3327) and outbound instance/reg-id (RFC 5626 §6).
// Pure: time is passed in; the call server keeps one and authenticates before calling it.

import SIPMessage

public struct Binding: Sendable, Equatable {
    public var contact: NameAddress
    public var expires: Double
    public var callID: String
    public var cseq: UInt32
    /// Path headers to put as Route on requests to this contact (RFC 3327).
    public var path: [String]
    /// RFC 5626 instance id and reg-id, when the UA registered a flow.
    public var instance: String?
    public var regID: String?
    /// Where the REGISTER came from (`host:port`), and over which transport: see `requestTarget`.
    public var source: String
    public var transport: String

    /// A stable name for the device: its +sip.instance, else its contact user@host.
    public var deviceName: String {
        if let instance { return instance }
        if case .sip(let uri) = contact.uri { return "\(uri.user ?? "")@\(uri.hostPort)" }
        return contact.uri.description
    }
}

public struct Registrar: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// 200 OK with the current bindings (each Contact with its remaining expires).
        case ok([Binding])
        case reject(status: Int, reason: String, minExpires: UInt32?)
    }

    public private(set) var bindings: [String: [Binding]] = [:]
    private var lastSweep = -Double.infinity
    public var minExpires: UInt32
    public var maxExpires: UInt32
    /// Contacts one address of record may hold; a REGISTER that would add more is refused.
    public var maxContacts: Int

    public init(minExpires: UInt32 = 60, maxExpires: UInt32 = 3600, maxContacts: Int = 10) {
        self.minExpires = minExpires
        self.maxExpires = maxExpires
        self.maxContacts = maxContacts
    }

    /// Applies an (already authenticated) REGISTER for `aor` (§10.3 steps 6–8).
    public mutating func register(_ request: SIPRequest, aor: String, source: String, transport: String, now: Double) -> Outcome {
        // Lapsed bindings of this address go now; everyone else's in a sweep at most once a minute
        // (lookups ignore lapsed bindings anyway), so a REGISTER costs the same with 10 or 100,000 users.
        if now - lastSweep >= 60 { purge(now: now) }
        var current = (bindings[aor] ?? []).filter { $0.expires > now }
        let callID = request.callID ?? ""
        let cseq = request.cseq?.sequence ?? 0
        if request.isContactWildcard {
            // Contact: * needs Expires: 0 and no other contact (§10.3 step 6).
            guard request.expires == 0, request.contacts.isEmpty, request.headers.fieldCount(.contact) == 1 else {
                return .reject(status: 400, reason: "Contact: * requires Expires: 0 and no other Contact", minExpires: nil)
            }
            bindings[aor] = nil
            return .ok([])
        }
        let path = request.headers.values(.path).flatMap(SIPHeaders.splitCommaList)
        for contact in request.contacts {
            let requested = contact.parameters["expires"].flatMap { UInt32($0) } ?? request.expires ?? 3600
            if requested > 0, requested < minExpires {
                return .reject(status: 423, reason: "Interval Too Brief", minExpires: minExpires)
            }
            let granted = min(requested, maxExpires)
            let instance = contact.parameters["+sip.instance"]
            let regID = contact.parameters["reg-id"]
            let index = current.firstIndex { existing in
                if let instance, existing.instance == instance { return existing.regID == regID }
                return Registrar.sameContact(existing.contact, contact)
            }
            if let index {
                // §10.3 step 7: a binding from the same Call-ID with a CSeq not higher is out of order.
                if current[index].callID == callID, cseq <= current[index].cseq {
                    return .reject(status: 500, reason: "Out-of-order REGISTER (CSeq \(cseq))", minExpires: nil)
                }
                if granted == 0 { current.remove(at: index); continue }
                current[index] = Binding(contact: contact, expires: now + Double(granted), callID: callID, cseq: cseq, path: path,
                                         instance: instance, regID: regID, source: source, transport: transport)
            } else if granted > 0 {
                current.append(Binding(contact: contact, expires: now + Double(granted), callID: callID, cseq: cseq, path: path,
                                       instance: instance, regID: regID, source: source, transport: transport))
            }
        }
        if current.count > maxContacts {
            // Nothing of this REGISTER is kept: the phone must remove a binding first.
            return .reject(status: 403, reason: "Too many registrations (\(maxContacts) devices at most)", minExpires: nil)
        }
        bindings[aor] = current.isEmpty ? nil : current
        return .ok(current)
    }

    /// Puts an address of record's bindings back as they were (a REGISTER whose write failed).
    public mutating func reset(_ aor: String, to previous: [Binding]?) { bindings[aor] = previous }

    /// Bindings read back from the store at start.
    public mutating func restore(_ stored: [String: [Binding]]) { bindings = stored }

    public mutating func purge(now: Double) {
        lastSweep = now
        bindings = bindings.compactMapValues { list in
            let alive = list.filter { $0.expires > now }
            return alive.isEmpty ? nil : alive
        }
    }

    public func lookup(_ aor: String, now: Double) -> [Binding] {
        (bindings[aor] ?? []).filter { $0.expires > now }
    }

    static func sameContact(_ a: NameAddress, _ b: NameAddress) -> Bool {
        if case .sip(let x) = a.uri, case .sip(let y) = b.uri { return x.isEquivalent(to: y) }
        return a.uri == b.uri
    }

    /// The 200 OK's Contact values: each binding with its remaining expiry (§10.3 step 8).
    public static func contactHeader(_ bindings: [Binding], now: Double) -> [String] {
        bindings.map { binding in
            var contact = binding.contact
            contact.parameters["expires"] = String(max(0, Int(binding.expires - now)))
            return contact.description
        }
    }
}
