// The call server's configuration (YAML), with defaults that work on loopback and errors that
// name the key at fault. The schema is documented in docs/pbx-config.md.

import ConfigFile
import Foundation
import MediaServices
import Yams

public struct PBXConfiguration: Codable, Sendable, Equatable {
    public struct Listen: Codable, Sendable, Equatable {
        public var host: String = "127.0.0.1"
        public var port: Int = 5060

        init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            host = try c.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 5060
        }
    }

    public struct User: Codable, Sendable, Equatable {
        public var extensionNumber: String
        public var name: String
        /// SIP digest password (auth user = extension).
        public var password: String

        enum CodingKeys: String, CodingKey {
            case extensionNumber = "extension"
            case name, password
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

        public init(remote: String? = nil, musicOnHold: String? = nil) {
            self.remote = remote
            self.musicOnHold = musicOnHold
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

    public init() {}

    enum CodingKeys: String, CodingKey {
        case domain, listen, ringTimeout, nonceLifetime, minExpires, maxExpires, digestAlgorithms, users, cti, callbackLifetime, follows,
             media, numbering, acd
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
        guard (0...65535).contains(cti.port) else { throw ConfigurationError("\(source): cti.port must be 0–65535") }
        guard ringTimeout > 0 else { throw ConfigurationError("\(source): ringTimeout must be positive") }
        guard callbackLifetime > 0 else { throw ConfigurationError("\(source): callbackLifetime must be positive") }
        guard !cti.secret.isEmpty else { throw ConfigurationError("\(source): cti.secret is empty") }
        guard minExpires <= maxExpires else { throw ConfigurationError("\(source): minExpires must not exceed maxExpires") }
        let known = ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"]
        for (index, name) in digestAlgorithms.enumerated() where !known.contains(name) {
            throw ConfigurationError("\(source): digestAlgorithms[\(index)] '\(name)' is not one of \(known.joined(separator: ", "))")
        }
        guard !digestAlgorithms.isEmpty else { throw ConfigurationError("\(source): digestAlgorithms is empty") }
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
            guard !user.password.isEmpty else { throw ConfigurationError("\(source): users[\(index)].password is empty") }
        }
        try validateNumbering(source: source)
        try acd.validate(source: source, taken: { number in user(number) != nil || numbering.contains { $0.dial == number } },
                         isTarget: { number in user(number) != nil || numbering.contains { $0.dial == number } })
        if let remote = media.remote {
            let parts = remote.split(separator: ":")
            guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else {
                throw ConfigurationError("\(source): media.remote must be host:port, such as 127.0.0.1:5070")
            }
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
            case (.some, nil): break
            case (nil, .some(let target)):
                guard user(target) != nil else { throw ConfigurationError("\(key).user: there is no extension \(target)") }
            default:
                throw ConfigurationError("\(key) needs exactly one of service (\(MediaService.allCases.map(\.rawValue).joined(separator: ", "))) or user")
            }
        }
    }
}
