// The collaboration server's configuration (YAML), with defaults that work on loopback and errors
// that name the key at fault. The schema is documented in docs/collab-config.md.

import ConfigFile
import Foundation
import Wire

public struct CollabConfiguration: Codable, Sendable, Equatable {
    public struct Listen: Codable, Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 8470
        public init() {}
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            host = try c.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 8470
        }
    }

    public struct User: Codable, Sendable, Equatable {
        public var extensionNumber: String
        public var name: String
        /// Login password (stored only as a bcrypt hash).
        public var password: String
        /// SIP digest password given to the user's phones (defaults to `password`).
        public var sipPassword: String?

        enum CodingKeys: String, CodingKey {
            case extensionNumber = "extension"
            case name, password, sipPassword
        }

        public init(extensionNumber: String, name: String, password: String, sipPassword: String? = nil) {
            self.extensionNumber = extensionNumber
            self.name = name
            self.password = password
            self.sipPassword = sipPassword
        }
    }

    public struct External: Codable, Sendable, Equatable {
        public var name: String
        public var number: String
        public init(name: String, number: String) {
            self.name = name
            self.number = number
        }
    }

    public struct CTI: Codable, Sendable, Equatable {
        /// Base URL of the call server's CTI API, e.g. http://127.0.0.1:5080
        public var url = "http://127.0.0.1:5080"
        public var secret = "change-me"
        public init() {}
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            url = try c.decodeIfPresent(String.self, forKey: .url) ?? "http://127.0.0.1:5080"
            secret = try c.decodeIfPresent(String.self, forKey: .secret) ?? "change-me"
        }
    }

    public struct CallServer: Codable, Sendable, Equatable {
        /// The SIP domain of the call server (`sip:2002@DOMAIN`).
        public var domain = "127.0.0.1"
        public var primary = SIPServerAddress(host: "127.0.0.1", port: 5060)
        public var secondary: SIPServerAddress? = SIPServerAddress(host: "127.0.0.1", port: 5062)
        public var borderProxy: SIPServerAddress?
        /// A CA certificate file (PEM) given to phones at login, for the servers above reached
        /// over TLS (`transport: tls`): the call server's `tls/ca.pem`.
        public var tlsCA: String?
        public var cti = CTI()
        public init() {}
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = CallServer()
            domain = try c.decodeIfPresent(String.self, forKey: .domain) ?? d.domain
            primary = try c.decodeIfPresent(SIPServerAddress.self, forKey: .primary) ?? d.primary
            secondary = c.contains(.secondary) ? try c.decodeIfPresent(SIPServerAddress.self, forKey: .secondary) : d.secondary
            borderProxy = try c.decodeIfPresent(SIPServerAddress.self, forKey: .borderProxy)
            tlsCA = try c.decodeIfPresent(String.self, forKey: .tlsCA)
            cti = try c.decodeIfPresent(CTI.self, forKey: .cti) ?? d.cti
        }
    }

    public var listen = Listen()
    /// Seconds between a phone's application heartbeats (told to phones at login and on connect).
    public var heartbeatSeconds: Double = 2
    /// How long a login token stays valid.
    public var sessionHours: Double = 12
    /// bcrypt cost for stored password hashes (4–31; each step doubles the work).
    public var bcryptCost: Int = 10
    /// Failed logins allowed per user within `loginWindowSeconds` before `429`.
    public var loginAttempts: Int = 5
    public var loginWindowSeconds: Double = 60
    /// Events held per user for a phone that resumes its session.
    public var eventHistory: Int = 1000
    /// Largest recording upload accepted, in bytes.
    public var recordingMaxBytes: Int = 64 * 1024 * 1024
    public var callServer = CallServer()
    public var users: [User] = []
    /// External numbers in the corporate directory.
    public var directory: [External] = []
    /// Users who may watch the contact center's wallboard (`/wallboard`).
    public var supervisors: [String] = []
    public var dialingRules = DialingRules()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case listen, heartbeatSeconds, sessionHours, bcryptCost, loginAttempts, loginWindowSeconds, eventHistory, recordingMaxBytes
        case callServer, users, directory, supervisors, dialingRules
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CollabConfiguration()
        listen = try c.decodeIfPresent(Listen.self, forKey: .listen) ?? d.listen
        heartbeatSeconds = try c.decodeIfPresent(Double.self, forKey: .heartbeatSeconds) ?? d.heartbeatSeconds
        sessionHours = try c.decodeIfPresent(Double.self, forKey: .sessionHours) ?? d.sessionHours
        bcryptCost = try c.decodeIfPresent(Int.self, forKey: .bcryptCost) ?? d.bcryptCost
        loginAttempts = try c.decodeIfPresent(Int.self, forKey: .loginAttempts) ?? d.loginAttempts
        loginWindowSeconds = try c.decodeIfPresent(Double.self, forKey: .loginWindowSeconds) ?? d.loginWindowSeconds
        eventHistory = try c.decodeIfPresent(Int.self, forKey: .eventHistory) ?? d.eventHistory
        recordingMaxBytes = try c.decodeIfPresent(Int.self, forKey: .recordingMaxBytes) ?? d.recordingMaxBytes
        callServer = try c.decodeIfPresent(CallServer.self, forKey: .callServer) ?? d.callServer
        users = try c.decodeIfPresent([User].self, forKey: .users) ?? []
        directory = try c.decodeIfPresent([External].self, forKey: .directory) ?? []
        supervisors = try c.decodeIfPresent([String].self, forKey: .supervisors) ?? []
        dialingRules = try c.decodeIfPresent(DialingRules.self, forKey: .dialingRules) ?? d.dialingRules
    }

    public func user(_ number: String) -> User? { users.first { $0.extensionNumber == number } }

    public static func load(_ url: URL) throws -> CollabConfiguration {
        let configuration = try ConfigFile.load(CollabConfiguration.self, from: url)
        try configuration.validate(source: url.path)
        return configuration
    }

    public static func parse(_ text: String, source: String = "configuration") throws -> CollabConfiguration {
        let configuration = try ConfigFile.parse(CollabConfiguration.self, text, source: source)
        try configuration.validate(source: source)
        return configuration
    }

    public func validate(source: String) throws {
        guard (0...65535).contains(listen.port) else { throw ConfigurationError("\(source): listen.port must be 0–65535") }
        guard heartbeatSeconds >= 0.1, heartbeatSeconds <= 60 else { throw ConfigurationError("\(source): heartbeatSeconds must be 0.1–60") }
        guard sessionHours > 0 else { throw ConfigurationError("\(source): sessionHours must be positive") }
        guard (4...31).contains(bcryptCost) else { throw ConfigurationError("\(source): bcryptCost must be 4–31") }
        guard loginAttempts > 0, loginWindowSeconds > 0 else { throw ConfigurationError("\(source): loginAttempts and loginWindowSeconds must be positive") }
        guard eventHistory >= 10 else { throw ConfigurationError("\(source): eventHistory must be at least 10") }
        guard URL(string: callServer.cti.url)?.host != nil else { throw ConfigurationError("\(source): callServer.cti.url is not a URL: \(callServer.cti.url)") }
        guard !callServer.cti.secret.isEmpty else { throw ConfigurationError("\(source): callServer.cti.secret is empty") }
        for (key, address) in [("primary", callServer.primary), ("secondary", callServer.secondary), ("borderProxy", callServer.borderProxy)] {
            guard let address else { continue }
            guard ["udp", "tcp", "tls"].contains(address.transport.lowercased()) else {
                throw ConfigurationError("\(source): callServer.\(key).transport must be udp, tcp or tls, not '\(address.transport)'")
            }
        }
        if let ca = callServer.tlsCA {
            guard let text = try? String(contentsOfFile: ca, encoding: .utf8), text.contains("-----BEGIN CERTIFICATE-----") else {
                throw ConfigurationError("\(source): callServer.tlsCA: \(ca) is not a readable PEM certificate file")
            }
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
        for (index, supervisor) in supervisors.enumerated() where user(supervisor) == nil {
            throw ConfigurationError("\(source): supervisors[\(index)]: there is no user \(supervisor)")
        }
        for (index, entry) in directory.enumerated() where entry.number.isEmpty || entry.name.isEmpty {
            throw ConfigurationError("\(source): directory[\(index)] needs a name and a number")
        }
    }
}
