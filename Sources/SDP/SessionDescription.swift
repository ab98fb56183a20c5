// The SDP model (RFC 8866): session-level fields and media descriptions, parsed and written.

public struct SessionDescription: Sendable, Hashable {
    public struct Origin: Sendable, Hashable {
        public var username: String
        public var sessionID: UInt64
        public var sessionVersion: UInt64
        public var networkType: String
        public var addressType: String
        public var address: String

        public init(username: String = "-", sessionID: UInt64, sessionVersion: UInt64, address: String, addressType: String = "IP4") {
            self.username = username
            self.sessionID = sessionID
            self.sessionVersion = sessionVersion
            self.networkType = "IN"
            self.addressType = addressType
            self.address = address
        }
    }

    public struct Connection: Sendable, Hashable {
        public var networkType: String = "IN"
        public var addressType: String
        public var address: String

        public init(address: String, addressType: String = "IP4") {
            self.address = address
            self.addressType = addressType
        }
    }

    public var version: Int = 0
    public var origin: Origin
    public var sessionName: String = "-"
    public var connection: Connection?
    /// `t=` lines as written (start stop).
    public var timing: String = "0 0"
    /// Session-level attributes in order.
    public var attributes: [Attribute] = []
    public var media: [MediaDescription] = []
    /// Lines this model does not interpret (i=, u=, e=, p=, b=, z=, k=, r=), kept in order.
    public var otherSessionLines: [String] = []

    public init(origin: Origin, connection: Connection?, media: [MediaDescription]) {
        self.origin = origin
        self.connection = connection
        self.media = media
    }

    /// The session-level direction (default sendrecv).
    public var direction: MediaDirection {
        attributes.lazy.compactMap { MediaDirection(rawValue: $0.name) }.first ?? .sendrecv
    }
}

public struct Attribute: Sendable, Hashable {
    public var name: String
    public var value: String?

    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }

    var line: String { value.map { "a=\(name):\($0)" } ?? "a=\(name)" }
}

public enum MediaDirection: String, Sendable, Hashable, CaseIterable {
    case sendrecv, sendonly, recvonly, inactive

    public var sends: Bool { self == .sendrecv || self == .sendonly }
    public var receives: Bool { self == .sendrecv || self == .recvonly }

    /// The direction the answerer uses for an offer with this direction (RFC 3264 §6.1).
    public var reversed: MediaDirection {
        switch self {
        case .sendonly: return .recvonly
        case .recvonly: return .sendonly
        default: return self
        }
    }

    public init(sends: Bool, receives: Bool) {
        switch (sends, receives) {
        case (true, true): self = .sendrecv
        case (true, false): self = .sendonly
        case (false, true): self = .recvonly
        case (false, false): self = .inactive
        }
    }

    /// The intersection of what both sides allow.
    public func intersect(_ other: MediaDirection) -> MediaDirection {
        MediaDirection(sends: sends && other.sends, receives: receives && other.receives)
    }
}

/// One `m=` section.
public struct MediaDescription: Sendable, Hashable {
    public var media: String
    public var port: Int
    public var portCount: Int?
    public var proto: String
    /// Payload type numbers (or other formats) in preference order.
    public var formats: [String]
    public var connection: SessionDescription.Connection?
    public var attributes: [Attribute] = []
    public var otherLines: [String] = []

    public init(media: String = "audio", port: Int, proto: String = "RTP/AVP", formats: [String], connection: SessionDescription.Connection? = nil, attributes: [Attribute] = []) {
        self.media = media
        self.port = port
        self.proto = proto
        self.formats = formats
        self.connection = connection
        self.attributes = attributes
    }

    /// Port 0 means the stream is rejected or disabled (RFC 3264 §6).
    public var isRejected: Bool { port == 0 }

    /// The media-level direction attribute, if any.
    public var explicitDirection: MediaDirection? {
        attributes.lazy.compactMap { MediaDirection(rawValue: $0.name) }.first
    }

    public func attributeValues(_ name: String) -> [String] {
        attributes.compactMap { $0.name == name ? ($0.value ?? "") : nil }
    }

    /// The rtpmap of a payload type: "PCMU/8000" etc.
    public func rtpmap(for payloadType: String) -> String? {
        attributeValues("rtpmap").first { $0.split(separator: " ").first.map(String.init) == payloadType }?
            .split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init)
    }

    public func fmtp(for payloadType: String) -> String? {
        attributeValues("fmtp").first { $0.split(separator: " ").first.map(String.init) == payloadType }?
            .split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init)
    }

    public var ptime: Int? { attributeValues("ptime").first.flatMap { Int($0) } }

    public mutating func setDirection(_ direction: MediaDirection) {
        attributes.removeAll { MediaDirection(rawValue: $0.name) != nil }
        attributes.append(Attribute(direction.rawValue))
    }
}
