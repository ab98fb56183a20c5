// Where the call server sends a request for a registered device (RFC 3261 §8.1.2 with RFC 3327,
// RFC 5626 and the usual NAT practice). Pure: a binding in, a transport target out.

import SIP
import SIPMessage

extension Binding {
    /// The next hop for a request to this device:
    /// - registered through a proxy (Path): the first Path entry, so the proxy stays in the way;
    /// - over a connection (TCP) or as an outbound flow (RFC 5626 reg-id): the flow the REGISTER
    ///   came on, which is the only way back to a device that does not listen for connections;
    /// - otherwise the Contact, when it names the host the REGISTER came from (a third party, such
    ///   as a test tool, may register a contact on another port); a Contact naming another address
    ///   is a device behind NAT, reached at the source (what Kamailio's fix_nated_register does).
    public var requestTarget: SIPTarget {
        let source = sourceTarget
        if let first = path.first, let hop = Self.pathURI(first) {
            return SIPTarget(uri: hop)
        }
        if source.kind.isReliable || regID != nil { return source }
        guard case .sip(let uri) = contact.uri, uri.bareHost == source.host else { return source }
        return SIPTarget(kind: source.kind, host: uri.bareHost, port: uri.port ?? source.kind.defaultPort)
    }

    /// The address the REGISTER came from, over the transport it came on.
    var sourceTarget: SIPTarget {
        let kind = SIPTransportKind(viaTransport: transport) ?? .udp
        guard let colon = source.lastIndex(of: ":"), let port = Int(source[source.index(after: colon)...]) else {
            return SIPTarget(kind: kind, host: source, port: kind.defaultPort)
        }
        var host = String(source[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return SIPTarget(kind: kind, host: host, port: port)
    }

    static func pathURI(_ entry: String) -> SIPURI? {
        guard let address = try? NameAddress.parseList(entry).first, case .sip(let uri) = address.uri else { return nil }
        return uri
    }
}
