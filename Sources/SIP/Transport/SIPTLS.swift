// What a transport needs for TLS (RFC 3261 §26.2, RFC 5630): the certificate it shows when it
// listens, and whom it trusts when it connects (a CA's chain checked against the host name or IP
// address, or a pinned certificate fingerprint). The contexts are made from files elsewhere
// (TLSFiles); this layer only runs them.

import NIOCore
import NIOSSL

public struct SIPTLS: Sendable {
    /// Shown to those who connect (nil: this transport cannot listen for TLS).
    public var server: NIOSSLContext?
    /// Used to connect (nil: this transport cannot open TLS connections).
    public var client: NIOSSLContext?
    /// Decides on the server's chain (leaf first) in place of the client context's trust roots
    /// and name check: a pinned fingerprint. Nil: the chain must lead to a trusted root and the
    /// leaf must name the host (or the IP address) connected to.
    public var acceptServer: (@Sendable ([NIOSSLCertificate]) -> Bool)?

    public init(server: NIOSSLContext? = nil, client: NIOSSLContext? = nil, acceptServer: (@Sendable ([NIOSSLCertificate]) -> Bool)? = nil) {
        self.server = server
        self.client = client
        self.acceptServer = acceptServer
    }

    /// The handler that starts a client connection to `host` (SNI and the name check use a DNS
    /// name; an IP address is checked against the certificate's IP entries instead).
    func clientHandler(host: String) throws -> NIOSSLClientHandler {
        guard let client else { throw SIPTransportError.noTLS("no trust configured to connect to \(host) over TLS") }
        let name = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        guard let acceptServer else { return try NIOSSLClientHandler(context: client, serverHostname: name) }
        return try NIOSSLClientHandler(context: client, serverHostname: name) { chain, promise in
            promise.succeed(acceptServer(chain) ? .certificateVerified : .failed)
        }
    }
}
