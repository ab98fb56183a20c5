// What a phone receives at login: everything it needs to work, and to cache for limited mode.

import Foundation

public struct SIPServerAddress: Codable, Sendable, Equatable {
    public var host: String
    public var port: Int
    public var transport: String

    public init(host: String, port: Int, transport: String = "udp") {
        self.host = host
        self.port = port
        self.transport = transport
    }

    enum CodingKeys: String, CodingKey { case host, port, transport }

    /// `transport` may be left out (UDP).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decode(String.self, forKey: .host)
        port = try c.decode(Int.self, forKey: .port)
        transport = try c.decodeIfPresent(String.self, forKey: .transport) ?? "udp"
    }
}

public struct SIPAccount: Codable, Sendable, Equatable {
    public var username: String
    public var password: String
    public var domain: String
    public var primary: SIPServerAddress
    public var secondary: SIPServerAddress?
    /// A border proxy (outbound proxy) the phone sends through, when the office has one.
    public var borderProxy: SIPServerAddress?
    /// The CA certificate (PEM) the servers reached over TLS are certified by: the site's private
    /// CA, handed to the phone at login so it can verify them (nil: the phone's own trust).
    public var tlsCA: String?

    public init(username: String, password: String, domain: String, primary: SIPServerAddress, secondary: SIPServerAddress?, borderProxy: SIPServerAddress?,
                tlsCA: String? = nil) {
        self.username = username
        self.password = password
        self.domain = domain
        self.primary = primary
        self.secondary = secondary
        self.borderProxy = borderProxy
        self.tlsCA = tlsCA
    }
}

public struct Provisioning: Codable, Sendable, Equatable {
    public var user: String
    public var name: String
    public var sip: SIPAccount
    /// Seconds between the phone's application heartbeats on its session.
    public var heartbeatSeconds: Double
    public var directory: DirectorySnapshot
    public var contacts: [Contact]
    /// Nil when the call server could not be asked at login.
    public var settings: CallSettings?
    public var dialingRules: DialingRules
    public var presence: [Presence]

    public init(user: String, name: String, sip: SIPAccount, heartbeatSeconds: Double, directory: DirectorySnapshot, contacts: [Contact],
                settings: CallSettings?, dialingRules: DialingRules, presence: [Presence]) {
        self.user = user
        self.name = name
        self.sip = sip
        self.heartbeatSeconds = heartbeatSeconds
        self.directory = directory
        self.contacts = contacts
        self.settings = settings
        self.dialingRules = dialingRules
        self.presence = presence
    }
}

public struct LoginReply: Codable, Sendable, Equatable {
    public var token: String
    public var expiresAt: Date
    public var provisioning: Provisioning

    public init(token: String, expiresAt: Date, provisioning: Provisioning) {
        self.token = token
        self.expiresAt = expiresAt
        self.provisioning = provisioning
    }
}
