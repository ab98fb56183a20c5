// Stamping received/rport on incoming requests and choosing where responses go
// (RFC 3261 §18.2.1, §18.2.2; RFC 3581 §4).

import NIOCore
import SIPMessage

public enum ResponseRouting {
    /// §18.2.1 and RFC 3581 §4: record the packet's source in the top Via (`received` when the
    /// sent-by host differs, `rport` filled in when the client asked for it).
    public static func stampTopVia(_ request: inout SIPRequest, source: SocketAddress) {
        guard var via = request.topVia, let sourceIP = source.ipAddress else { return }
        var changed = false
        if via.host != sourceIP || via.hasRPort {
            via.received = sourceIP
            changed = true
        }
        if via.hasRPort, let port = source.port {
            via.rport = port
            changed = true
        }
        if changed { request.headers.replaceFirstElement(.via, with: via.description) }
    }

    /// Where a response to a request with this top Via goes when it cannot (or need not) use the
    /// connection the request came in on: maddr, else received (or sent-by) with rport (or the
    /// sent-by port, or 5060). A request that came by datagram is answered by datagram, whatever
    /// transport its Via names (a Via saying TCP or TLS on a UDP packet is not to be trusted), and
    /// one that came over TLS goes back over TLS (a Via cannot talk a response down to clear text).
    public static func target(forResponseVia via: Via, arrivedOver arrival: SIPTransportKind) -> SIPTarget {
        let named = SIPTransportKind(viaTransport: via.transport)
        let kind: SIPTransportKind
        switch arrival {
        case .udp, .tls: kind = arrival
        case .tcp: kind = named.flatMap { $0.isReliable ? $0 : nil } ?? arrival
        }
        let port = via.rport ?? via.port ?? kind.defaultPort
        if let maddr = via.maddr { return SIPTarget(kind: kind, host: maddr, port: via.port ?? kind.defaultPort) }
        return SIPTarget(kind: kind, host: via.received ?? via.host, port: port)
    }
}
