// The vocabulary shared by the transports: kinds, addresses, incoming messages, counters.

import NIOConcurrencyHelpers
import NIOCore
import SIPMessage

public enum SIPTransportKind: String, Sendable, Hashable, CaseIterable {
    case udp = "UDP"
    case tcp = "TCP"
    /// TCP with swift-nio-ssl's handler before the same stream handler (RFC 3261 §26.2, RFC 5630).
    case tls = "TLS"

    public var isReliable: Bool { self != .udp }

    public init?(viaTransport: String) {
        self.init(rawValue: viaTransport.uppercased())
    }

    public var defaultPort: Int { self == .tls ? 5061 : 5060 }

    /// The URI `transport` parameter naming this transport (nil for UDP, the default).
    public var uriParameter: String? { self == .udp ? nil : rawValue.lowercased() }
}

/// Where to send a message: an address and the transport to use.
public struct SIPTarget: Sendable, Hashable, CustomStringConvertible {
    public var kind: SIPTransportKind
    public var host: String
    public var port: Int

    public init(kind: SIPTransportKind, host: String, port: Int) {
        self.kind = kind
        self.host = host
        self.port = port
    }

    public init(kind: SIPTransportKind, address: SocketAddress) {
        self.init(kind: kind, host: address.ipAddress ?? "127.0.0.1", port: address.port ?? 5060)
    }

    /// The target a SIP URI designates (RFC 3263 without DNS: maddr or host, port or the
    /// transport's default, the transport parameter or UDP; a `sips:` URI goes over TLS whatever
    /// its transport parameter says, RFC 5630 §3.1.3).
    public init(uri: SIPURI) {
        let named = uri.transport.flatMap(SIPTransportKind.init(viaTransport:)) ?? .udp
        let kind: SIPTransportKind = uri.isSecure ? .tls : named
        self.init(kind: kind, host: uri.parameters["maddr"] ?? uri.bareHost, port: uri.port ?? kind.defaultPort)
    }

    public var description: String { "\(kind.rawValue.lowercased()):\(host):\(port)" }
}

/// Identifies one stream connection, so a response can go back on the connection its request
/// came in on (RFC 3261 §18.2.2).
public struct ConnectionID: Sendable, Hashable, CustomStringConvertible {
    let value: ObjectIdentifier
    public var description: String { "conn-\(UInt(bitPattern: value.hashValue) % 100_000)" }
}

/// A message received by a transport, with where it came from.
public struct IncomingMessage: Sendable {
    public var message: SIPMessage
    public var source: SocketAddress
    public var kind: SIPTransportKind
    /// The stream connection it arrived on (nil for datagrams).
    public var connection: ConnectionID?
}

/// Counters a transport keeps; read with `snapshot`.
public final class SIPTransportCounters: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var messagesReceived = 0
        public var messagesSent = 0
        /// Messages that did not parse.
        public var malformed = 0
        /// Malformed messages dropped without an answer (responses, or no readable Via).
        public var dropped = 0
        /// Error responses (400/505/513) sent for malformed requests.
        public var errorResponses = 0
        public var keepAlivePings = 0
        public var keepAlivePongs = 0
        public var connectionsOpened = 0
        public var connectionsClosed = 0
        /// Stream connections closed for being idle, too slow, or unframeable.
        public var connectionsTimedOut = 0
        /// Connections refused on accept: over the total or the per-source limit.
        public var connectionsRefused = 0
        public var sendFailures = 0
    }

    private let box = NIOLockedValueBox(Snapshot())

    public init() {}

    public var snapshot: Snapshot { box.withLockedValue { $0 } }

    func bump(_ keyPath: WritableKeyPath<Snapshot, Int>, by amount: Int = 1) {
        box.withLockedValue { $0[keyPath: keyPath] += amount }
    }
}

public enum SIPTransportError: Error, Sendable, CustomStringConvertible {
    case notListening(SIPTransportKind)
    case unresolvable(String)
    case connectionFailed(SIPTarget, String)
    case noRouteForResponse(String)
    /// TLS was asked for and this transport has no certificate (to listen) or trust (to connect).
    case noTLS(String)

    public var description: String {
        switch self {
        case .notListening(let kind): return "no \(kind.rawValue) transport is listening, so nothing can be sent over \(kind.rawValue)"
        case .unresolvable(let host): return "cannot resolve host '\(host)'"
        case .connectionFailed(let target, let why): return "cannot connect to \(target): \(why)"
        case .noRouteForResponse(let why): return "cannot route the response: \(why)"
        case .noTLS(let why): return "TLS is not configured: \(why)"
        }
    }
}

/// One message crossing a transport, for tracing.
public struct SIPTraceEvent: Sendable {
    public enum Direction: Sendable { case sent, received }
    public var direction: Direction
    public var message: SIPMessage
    public var kind: SIPTransportKind
    public var peer: String

    /// "→ INVITE sip:2002@127.0.0.1 (udp:127.0.0.1:5060)" style one-liner.
    public var summary: String {
        let arrow = direction == .sent ? "→" : "←"
        let line: String
        switch message {
        case .request(let r): line = "\(r.method) \(r.uri)"
        case .response(let r): line = "\(r.statusCode) \(r.reasonPhrase) (\(r.cseq?.method.rawValue ?? "?"))"
        }
        return "\(arrow) \(line)  [\(kind.rawValue) \(peer)]"
    }
}
