// The call server's configuration (YAML), with defaults that work on loopback and errors that
// name the key at fault. The schema is documented in docs/pbx-config.md.

import ConfigFile
import Foundation
import SDP
import MediaServices
import Voicemail
import Yams

public struct PBXConfiguration: Codable, Sendable, Equatable {
    public struct Listen: Codable, Sendable, Equatable {
        public var host: String = "127.0.0.1"
        public var port: Int = 5060
        /// SIP over TLS beside UDP and TCP (nil: none).
        public var tls: TLS?

        /// `listen.tls`: the port, and the certificate chain and key as PEM files; without
        /// them, the site's private CA (made in the data directory at first start) certifies
        /// the server for `listen.host`, localhost and 127.0.0.1.
        public struct TLS: Codable, Sendable, Equatable {
            public var port: Int = 5061
            public var certificate: String?
            public var key: String?

            public init(port: Int = 5061, certificate: String? = nil, key: String? = nil) {
                self.port = port
                self.certificate = certificate
                self.key = key
            }

            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 5061
                certificate = try c.decodeIfPresent(String.self, forKey: .certificate)
                key = try c.decodeIfPresent(String.self, forKey: .key)
            }
        }

        init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            host = try c.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 5060
            tls = try c.decodeIfPresent(TLS.self, forKey: .tls)
        }
    }

    public struct User: Codable, Sendable, Equatable {
        public var extensionNumber: String
        public var name: String
        /// SIP digest password (auth user = extension).
        public var password: String
        /// The mailbox's PIN until its user changes it from the keypad (then a stored hash wins);
        /// without one, the mailbox opens only from the user's own phone.
        public var voicemailPIN: String?
        /// Message-waiting NOTIFYs to this user's devices that did not subscribe (default: `voicemail.unsolicitedMWI`).
        public var unsolicitedMWI: Bool?
        /// false: a call this user holds never rings back (`recall.holdSeconds` applies otherwise).
        public var holdRecall: Bool?
        /// A hot-desk user: no device of its own and no SIP password; it logs in at a device with
        /// this PIN (`*1` + extension + `#` + PIN + `#`, or through the phone), and its calls ring there.
        public var hotDeskPIN: String?
        /// SRTP for this user's calls (default `optional`: keys are relayed as the phones offer
        /// them). `required`: calls from or to the user whose offer carries no usable SDES key are
        /// refused with a 488; `off`: keys are taken out of the offers from and to the user.
        public var mediaEncryption: MediaEncryptionPolicy?

        public var isHotDesk: Bool { hotDeskPIN != nil }

        public init(extensionNumber: String, name: String, password: String, voicemailPIN: String? = nil, unsolicitedMWI: Bool? = nil,
                    holdRecall: Bool? = nil, hotDeskPIN: String? = nil) {
            self.extensionNumber = extensionNumber
            self.name = name
            self.password = password
            self.voicemailPIN = voicemailPIN
            self.unsolicitedMWI = unsolicitedMWI
            self.holdRecall = holdRecall
            self.hotDeskPIN = hotDeskPIN
        }

        enum CodingKeys: String, CodingKey {
            case extensionNumber = "extension"
            case name, password, voicemailPIN, unsolicitedMWI, holdRecall, hotDeskPIN, mediaEncryption
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            extensionNumber = try c.decode(String.self, forKey: .extensionNumber)
            name = try c.decode(String.self, forKey: .name)
            hotDeskPIN = try c.decodeIfPresent(String.self, forKey: .hotDeskPIN)
            // A hot-desk user registers nothing: it needs no password (and an empty one never authenticates).
            password = hotDeskPIN == nil ? try c.decode(String.self, forKey: .password) : try c.decodeIfPresent(String.self, forKey: .password) ?? ""
            voicemailPIN = try c.decodeIfPresent(String.self, forKey: .voicemailPIN)
            unsolicitedMWI = try c.decodeIfPresent(Bool.self, forKey: .unsolicitedMWI)
            holdRecall = try c.decodeIfPresent(Bool.self, forKey: .holdRecall)
            mediaEncryption = try c.decodeIfPresent(MediaEncryptionPolicy.self, forKey: .mediaEncryption)
        }
    }

    public struct CTI: Codable, Sendable, Equatable {
        public var host: String = "127.0.0.1"
        public var port: Int = 5080
        public var secret: String = "change-me"

        init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            host = try c.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 5080
            secret = try c.decodeIfPresent(String.self, forKey: .secret) ?? "change-me"
        }
    }

    /// The primary a secondary call server follows: its CTI API, whose feature state (DND,
    /// forwarding, "Sending calls to") this server copies and keeps.
    public struct Primary: Codable, Sendable, Equatable {
        public var cti: String
        public var secret: String
    }

    /// Where the media services run (echo test, music on hold).
    public struct Media: Codable, Sendable, Equatable {
        /// `host:port` of a `holdfast media` host to route service calls to; nil runs the services
        /// inside this server on a free loopback port.
        public var remote: String?
        /// The WAV (8 kHz, mono, 16-bit) a party on hold hears; nil plays the built-in tune.
        public var musicOnHold: String?
        /// Seconds without RTP after which a conference participant leaves its room (a dead phone).
        public var rtpTimeoutSeconds: Double?

        public init(remote: String? = nil, musicOnHold: String? = nil, rtpTimeoutSeconds: Double? = nil) {
            self.remote = remote
            self.musicOnHold = musicOnHold
            self.rtpTimeoutSeconds = rtpTimeoutSeconds
        }
    }

    /// One entry of the numbering plan: a number dialed, and what it reaches.
    public struct NumberingEntry: Codable, Sendable, Equatable {
        public var dial: String
        /// A media service: `echo` (or `moh`, music on hold).
        public var service: MediaService?
        /// Another name for a user's extension.
        public var user: String?

        public init(dial: String, service: MediaService? = nil, user: String? = nil) {
            self.dial = dial
            self.service = service
            self.user = user
        }
    }

    /// The SIP domain this server is responsible for (`sip:2002@127.0.0.1` is user 2002).
    public var domain: String = "127.0.0.1"
    public var listen = Listen()
    /// Seconds a call rings before "If I do not answer" applies (or the caller gets 480).
    public var ringTimeout: Double = 20
    /// Seconds a nonce stays valid before a re-challenge with stale=true.
    public var nonceLifetime: Double = 300
    /// Registration expiry bounds (seconds).
    public var minExpires: UInt32 = 60
    public var maxExpires: UInt32 = 3600
    /// Digest algorithms offered, one challenge each, in order (RFC 8760 §2.4). MD5 alone by
    /// default: deployed phones (baresip 1.0's libre among them) fail on any challenge whose
    /// algorithm they do not know instead of skipping it. Add SHA-256 when every phone has it.
    public var digestAlgorithms: [String] = ["MD5"]
    public var users: [User] = [] { didSet { userIndex = Self.index(users) } }
    /// Position of each extension in `users` (the first, if listed twice): lookups happen on every request.
    private var userIndex: [String: Int] = [:]
    public var cti = CTI()
    /// Seconds a callback request waits for its target to be free before it lapses.
    public var callbackLifetime: Double = 1800
    /// Set on a secondary: the primary whose feature state it follows (nil on a primary).
    public var follows: Primary?
    public var media = Media()
    /// What each dialed number reaches besides the users' extensions (docs/pbx-config.md).
    public var numbering: [NumberingEntry] = PBXConfiguration.defaultNumbering

    public static let defaultNumbering = [NumberingEntry(dial: "*43", service: .echo)]
    /// The contact center: agent groups and ACD paths (none by default).
    public var acd = ACDConfiguration()
    /// Digest failures, bans and limits (docs/pbx-config.md, `security:`).
    public var security = Security()
    /// Mailboxes (docs/pbx-config.md, `voicemail:`).
    public var voicemail = VoicemailSettings()
    /// Meet-me conference rooms (docs/pbx-config.md, `conferences:`), dialed by their numbers.
    public var conferences: [ConferenceRoomConfiguration] = []

    public func conference(_ number: String) -> ConferenceRoomConfiguration? { conferences.first { $0.number == number } }
    /// Recall timers (docs/pbx-config.md, `recall:`).
    public var recall = Recall()
    /// Call park (docs/pbx-config.md, `park:`); nil: none.
    public var park: Park?
    /// The attendant (docs/pbx-config.md, `attendant:`): calls to its number ring every desktop
    /// console on duty; nil: none.
    public var attendant: Attendant?

    public struct Attendant: Codable, Sendable, Equatable {
        public var number: String = "0"
        public var name: String = "Attendant"
        /// Seconds a caller waits for a console before 480.
        public var waitSeconds: Double = 300

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Attendant()
            number = try c.decodeIfPresent(String.self, forKey: .number) ?? d.number
            name = try c.decodeIfPresent(String.self, forKey: .name) ?? d.name
            waitSeconds = try c.decodeIfPresent(Double.self, forKey: .waitSeconds) ?? d.waitSeconds
        }
    }

    public struct Park: Codable, Sendable, Equatable {
        /// Keyed during a call (SIP INFO), or a blind transfer's target: parks the other party.
        public var code: String = "*70"
        /// The slots, first and last: dialing one retrieves what is parked there.
        public var first: Int = 701
        public var last: Int = 720
        /// Seconds before a call nobody retrieved rings its parker again.
        public var seconds: Double = 180

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Park()
            code = try c.decodeIfPresent(String.self, forKey: .code) ?? d.code
            first = try c.decodeIfPresent(Int.self, forKey: .first) ?? d.first
            last = try c.decodeIfPresent(Int.self, forKey: .last) ?? d.last
            seconds = try c.decodeIfPresent(Double.self, forKey: .seconds) ?? d.seconds
        }

        public var slots: [String] { first <= last ? (first...last).map(String.init) : [] }
    }

    public struct Recall: Codable, Sendable, Equatable {
        /// Seconds a blind transfer's target rings before the call comes back to the transferrer
        /// (0: no recall; the target rings for `ringTimeout` and the call ends unanswered).
        public var transferSeconds: Double = 30
        /// Seconds a call stays held before it rings its holder (0: never; per user `holdRecall: false`).
        public var holdSeconds: Double = 90

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Recall()
            transferSeconds = try c.decodeIfPresent(Double.self, forKey: .transferSeconds) ?? d.transferSeconds
            holdSeconds = try c.decodeIfPresent(Double.self, forKey: .holdSeconds) ?? d.holdSeconds
        }
    }

    /// The recall timer of a blind transfer (nil: off).
    var transferRecallSeconds: Double? { recall.transferSeconds > 0 ? recall.transferSeconds : nil }

    /// How long `user` may hold a call before it rings them back (nil: never).
    func holdRecallSeconds(_ user: String) -> Double? {
        guard recall.holdSeconds > 0, self.user(user)?.holdRecall != false else { return nil }
        return recall.holdSeconds
    }

    public struct Security: Codable, Sendable, Equatable {
        /// Failed digests from one address within `authWindowSeconds` before it is banned.
        public var authFailures = 10
        public var authWindowSeconds: Double = 60
        /// How long a banned address's requests are dropped unanswered.
        public var banSeconds: Double = 600
        /// Contacts one user may register (devices); more get 403.
        public var maxRegistrationsPerUser = 10
        /// TCP connections accepted at most, in total and from one address.
        public var maxConnections = 4096
        public var maxConnectionsPerSource = 64
        /// A connection on which nothing authenticated is closed after this much idleness.
        public var unauthenticatedIdleSeconds: Double = 30
        /// Calls in progress at most; a new call beyond gets 503 with Retry-After.
        public var maxCalls = 10_000

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Security()
            authFailures = try c.decodeIfPresent(Int.self, forKey: .authFailures) ?? d.authFailures
            authWindowSeconds = try c.decodeIfPresent(Double.self, forKey: .authWindowSeconds) ?? d.authWindowSeconds
            banSeconds = try c.decodeIfPresent(Double.self, forKey: .banSeconds) ?? d.banSeconds
            maxRegistrationsPerUser = try c.decodeIfPresent(Int.self, forKey: .maxRegistrationsPerUser) ?? d.maxRegistrationsPerUser
            maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? d.maxConnections
            maxConnectionsPerSource = try c.decodeIfPresent(Int.self, forKey: .maxConnectionsPerSource) ?? d.maxConnectionsPerSource
            unauthenticatedIdleSeconds = try c.decodeIfPresent(Double.self, forKey: .unauthenticatedIdleSeconds) ?? d.unauthenticatedIdleSeconds
            maxCalls = try c.decodeIfPresent(Int.self, forKey: .maxCalls) ?? d.maxCalls
        }
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case domain, listen, ringTimeout, nonceLifetime, minExpires, maxExpires, digestAlgorithms, users, cti, callbackLifetime, follows,
             media, numbering, acd, security, voicemail, conferences, recall, park, attendant
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = PBXConfiguration()
        domain = try c.decodeIfPresent(String.self, forKey: .domain) ?? defaults.domain
        listen = try c.decodeIfPresent(Listen.self, forKey: .listen) ?? defaults.listen
        ringTimeout = try c.decodeIfPresent(Double.self, forKey: .ringTimeout) ?? defaults.ringTimeout
        nonceLifetime = try c.decodeIfPresent(Double.self, forKey: .nonceLifetime) ?? defaults.nonceLifetime
        minExpires = try c.decodeIfPresent(UInt32.self, forKey: .minExpires) ?? defaults.minExpires
        maxExpires = try c.decodeIfPresent(UInt32.self, forKey: .maxExpires) ?? defaults.maxExpires
        digestAlgorithms = try c.decodeIfPresent([String].self, forKey: .digestAlgorithms) ?? defaults.digestAlgorithms
        users = try c.decodeIfPresent([User].self, forKey: .users) ?? []
        userIndex = Self.index(users)
        cti = try c.decodeIfPresent(CTI.self, forKey: .cti) ?? defaults.cti
        callbackLifetime = try c.decodeIfPresent(Double.self, forKey: .callbackLifetime) ?? defaults.callbackLifetime
        follows = try c.decodeIfPresent(Primary.self, forKey: .follows)
        media = try c.decodeIfPresent(Media.self, forKey: .media) ?? Media()
        numbering = try c.decodeIfPresent([NumberingEntry].self, forKey: .numbering) ?? Self.defaultNumbering
        acd = try c.decodeIfPresent(ACDConfiguration.self, forKey: .acd) ?? ACDConfiguration()
        security = try c.decodeIfPresent(Security.self, forKey: .security) ?? Security()
        voicemail = try c.decodeIfPresent(VoicemailSettings.self, forKey: .voicemail) ?? VoicemailSettings()
        conferences = try c.decodeIfPresent([ConferenceRoomConfiguration].self, forKey: .conferences) ?? []
        recall = try c.decodeIfPresent(Recall.self, forKey: .recall) ?? Recall()
        park = try c.decodeIfPresent(Park.self, forKey: .park)
        attendant = try c.decodeIfPresent(Attendant.self, forKey: .attendant)
    }

    public func user(_ number: String) -> User? { userIndex[number].map { users[$0] } }

    private static func index(_ users: [User]) -> [String: Int] {
        Dictionary(users.enumerated().map { ($0.element.extensionNumber, $0.offset) }, uniquingKeysWith: { first, _ in first })
    }

    /// Loads and checks a YAML file; errors name the file and the key.
    public static func load(_ url: URL) throws -> PBXConfiguration {
        let configuration = try ConfigFile.load(PBXConfiguration.self, from: url)
        try configuration.validate(source: url.path)
        return configuration
    }

    public static func parse(_ text: String, source: String = "configuration") throws -> PBXConfiguration {
        let configuration = try ConfigFile.parse(PBXConfiguration.self, text, source: source)
        try configuration.validate(source: source)
        return configuration
    }

    func validate(source: String) throws {
        guard (0...65535).contains(listen.port) else { throw ConfigurationError("\(source): listen.port must be 0–65535") }
        if let tls = listen.tls {
            guard (0...65535).contains(tls.port) else { throw ConfigurationError("\(source): listen.tls.port must be 0–65535") }
            guard tls.port == 0 || tls.port != listen.port else { throw ConfigurationError("\(source): listen.tls.port must differ from listen.port (\(listen.port))") }
            guard (tls.certificate == nil) == (tls.key == nil) else {
                throw ConfigurationError("\(source): listen.tls needs both certificate and key, or neither (the private CA then makes them)")
            }
        }
        guard (0...65535).contains(cti.port) else { throw ConfigurationError("\(source): cti.port must be 0–65535") }
        guard ringTimeout > 0 else { throw ConfigurationError("\(source): ringTimeout must be positive") }
        guard callbackLifetime > 0 else { throw ConfigurationError("\(source): callbackLifetime must be positive") }
        guard recall.transferSeconds >= 0, recall.holdSeconds >= 0, recall.transferSeconds.isFinite, recall.holdSeconds.isFinite else {
            throw ConfigurationError("\(source): recall.transferSeconds and recall.holdSeconds must be 0 (off) or positive")
        }
        guard !cti.secret.isEmpty else { throw ConfigurationError("\(source): cti.secret is empty") }
        guard minExpires <= maxExpires else { throw ConfigurationError("\(source): minExpires must not exceed maxExpires") }
        let known = ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"]
        for (index, name) in digestAlgorithms.enumerated() where !known.contains(name) {
            throw ConfigurationError("\(source): digestAlgorithms[\(index)] '\(name)' is not one of \(known.joined(separator: ", "))")
        }
        guard !digestAlgorithms.isEmpty else { throw ConfigurationError("\(source): digestAlgorithms is empty") }
        guard security.authFailures >= 1 else { throw ConfigurationError("\(source): security.authFailures must be 1 or more") }
        guard security.authWindowSeconds > 0, security.banSeconds > 0 else {
            throw ConfigurationError("\(source): security.authWindowSeconds and security.banSeconds must be positive")
        }
        guard (1...1000).contains(security.maxRegistrationsPerUser) else { throw ConfigurationError("\(source): security.maxRegistrationsPerUser must be 1–1000") }
        guard security.maxConnections >= 1, (1...security.maxConnections).contains(security.maxConnectionsPerSource) else {
            throw ConfigurationError("\(source): security.maxConnections must be 1 or more, and maxConnectionsPerSource 1–maxConnections")
        }
        guard security.maxCalls >= 1 else { throw ConfigurationError("\(source): security.maxCalls must be 1 or more") }
        guard security.unauthenticatedIdleSeconds >= 1 else { throw ConfigurationError("\(source): security.unauthenticatedIdleSeconds must be 1 or more") }
        if let follows {
            guard let url = URL(string: follows.cti), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ConfigurationError("\(source): follows.cti must be the primary's CTI URL, such as http://127.0.0.1:5080")
            }
            guard !follows.secret.isEmpty else { throw ConfigurationError("\(source): follows.secret is empty") }
        }
        var seen = Set<String>()
        for (index, user) in users.enumerated() {
            guard !user.extensionNumber.isEmpty, user.extensionNumber.allSatisfy(\.isNumber) else {
                throw ConfigurationError("\(source): users[\(index)].extension must be digits")
            }
            guard seen.insert(user.extensionNumber).inserted else {
                throw ConfigurationError("\(source): users[\(index)].extension \(user.extensionNumber) appears twice")
            }
            if let pin = user.hotDeskPIN {
                guard (4...8).contains(pin.count), pin.allSatisfy(\.isNumber) else {
                    throw ConfigurationError("\(source): users[\(index)].hotDeskPIN must be 4–8 digits")
                }
            } else {
                guard !user.password.isEmpty else { throw ConfigurationError("\(source): users[\(index)].password is empty") }
            }
            if let pin = user.voicemailPIN, let problem = MailboxStore.pinProblem(pin, mailbox: user.extensionNumber) {
                throw ConfigurationError("\(source): users[\(index)].voicemailPIN: \(problem)")
            }
        }
        if let problem = voicemail.problem() { throw ConfigurationError("\(source): \(problem)") }
        try validateNumbering(source: source)
        if let attendant {
            guard !attendant.number.isEmpty, attendant.number.allSatisfy(\.isNumber) else { throw ConfigurationError("\(source): attendant.number must be digits") }
            guard attendant.waitSeconds > 0 else { throw ConfigurationError("\(source): attendant.waitSeconds must be positive") }
            guard user(attendant.number) == nil, !numbering.contains(where: { $0.dial == attendant.number }), conference(attendant.number) == nil,
                  acd.path(attendant.number) == nil, park?.slots.contains(attendant.number) != true else {
                throw ConfigurationError("\(source): attendant.number \(attendant.number) is already an extension, a numbering entry, a room, a path or a park slot")
            }
        }
        if let park {
            guard park.code.hasPrefix("*"), park.code.count >= 2, park.code.dropFirst().allSatisfy(\.isNumber) else {
                throw ConfigurationError("\(source): park.code must be * and digits, such as *70")
            }
            guard park.first >= 0, park.first <= park.last, park.last - park.first < 1000 else {
                throw ConfigurationError("\(source): park.first and park.last must be a range of at most 1000 slots")
            }
            guard park.seconds > 0 else { throw ConfigurationError("\(source): park.seconds must be positive") }
            if let taken = park.slots.first(where: { slot in user(slot) != nil || numbering.contains { $0.dial == slot } || conference(slot) != nil || acd.path(slot) != nil }) {
                throw ConfigurationError("\(source): park slot \(taken) is already an extension, a numbering entry, a room or an ACD path")
            }
        }
        try ConferenceRoomConfiguration.validate(conferences, key: "\(source): conferences")
        for (index, room) in conferences.enumerated() where user(room.number) != nil || numbering.contains(where: { $0.dial == room.number }) {
            throw ConfigurationError("\(source): conferences[\(index)].number \(room.number) is already an extension or a numbering entry")
        }
        try acd.validate(source: source, taken: { number in user(number) != nil || numbering.contains { $0.dial == number } || conference(number) != nil },
                         isTarget: { number in user(number) != nil || numbering.contains { $0.dial == number } })
        if let remote = media.remote {
            let parts = remote.split(separator: ":")
            guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else {
                throw ConfigurationError("\(source): media.remote must be host:port, such as 127.0.0.1:5070")
            }
        }
        if let timeout = media.rtpTimeoutSeconds, timeout < 1 {
            throw ConfigurationError("\(source): media.rtpTimeoutSeconds must be at least 1")
        }
        if let music = media.musicOnHold, !FileManager.default.isReadableFile(atPath: music) {
            throw ConfigurationError("\(source): media.musicOnHold: \(music) cannot be read")
        }
    }

    private func validateNumbering(source: String) throws {
        var seen = Set<String>()
        for (index, entry) in numbering.enumerated() {
            let key = "\(source): numbering[\(index)]"
            guard !entry.dial.isEmpty, entry.dial.allSatisfy({ $0.isNumber || $0 == "*" || $0 == "#" }) else {
                throw ConfigurationError("\(key).dial must be digits, * and #")
            }
            guard seen.insert(entry.dial).inserted else { throw ConfigurationError("\(key).dial \(entry.dial) appears twice") }
            guard user(entry.dial) == nil else { throw ConfigurationError("\(key).dial \(entry.dial) is a user's extension") }
            switch (entry.service, entry.user) {
            case (.some(.queue), nil):
                throw ConfigurationError("\(key).service: queue is the ACD paths' own service; dial a path's number (acd.paths) instead")
            case (.some(.voicemail), nil), (.some(.conference), nil):
                throw ConfigurationError("\(key).service: \(entry.service!.rawValue) is reached by its own numbers (voicemail's feature codes, conferences' rooms)")
            case (.some, nil): break
            case (nil, .some(let target)):
                guard user(target) != nil else { throw ConfigurationError("\(key).user: there is no extension \(target)") }
            default:
                throw ConfigurationError("\(key) needs exactly one of service (\(MediaService.dialable.map(\.rawValue).joined(separator: ", "))) or user")
            }
        }
    }
}
