// Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3, including RFC 2543 fallback).

import SIPMessage

public struct TransactionKey: Sendable, Hashable, CustomStringConvertible {
    let value: String
    /// The value's hash, computed once: a key is hashed at every lookup of its transaction and
    /// of each of its timers.
    private let hash: Int

    init(value: String) {
        self.value = value
        hash = value.hashValue
    }

    public var description: String { value }

    public static func == (a: TransactionKey, b: TransactionKey) -> Bool { a.hash == b.hash && a.value == b.value }

    public func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    /// The same key, kept apart per arrival transport: a request replayed over another transport
    /// is a new transaction, never a retransmission (a client retransmits on its one transport).
    public func scoped(to transport: String) -> TransactionKey {
        TransactionKey(value: value + "|" + transport)
    }

    /// The client transaction a response belongs to: top Via branch and CSeq method (§17.1.3).
    public static func client(branch: String, method: SIPMethod) -> TransactionKey {
        TransactionKey(value: "c|\(branch)|\(method.rawValue == "ACK" ? "INVITE" : method.rawValue)")
    }

    public static func client(for response: SIPResponse) -> TransactionKey? {
        guard let branch = response.topVia?.branch, let method = response.cseq?.method else { return nil }
        return client(branch: branch, method: method)
    }

    /// The server transaction a request belongs to (§17.2.3). ACK matches the INVITE it acknowledges;
    /// `asMethod` lets a CANCEL find the INVITE transaction it cancels (§9.2).
    public static func server(for request: SIPRequest, asMethod: SIPMethod? = nil) -> TransactionKey? {
        guard let via = request.topVia else { return nil }
        var method = asMethod ?? request.method
        if method == .ack { method = .invite }
        if via.isRFC3261Branch, let branch = via.branch {
            return TransactionKey(value: "s|\(branch)|\(via.sentBy.lowercased())|\(method.rawValue)")
        }
        // RFC 2543 matching: Request-URI, To tag, From tag, Call-ID, CSeq number and top Via. The
        // ACK for a non-2xx carries the To tag of our response, which the INVITE lacked, so the To
        // tag is left out of the key (a 2543 INVITE has none); CANCEL and ACK match the INVITE.
        guard let callID = request.callID, let cseq = request.cseq else { return nil }
        let fromTag = request.from?.tag ?? ""
        return TransactionKey(value: "s2543|\(request.uri)|\(fromTag)|\(callID)|\(cseq.sequence)|\(via)|\(method.rawValue)")
    }
}

/// Branch parameters for new client transactions (§8.1.1.7): the magic cookie plus randomness.
public enum BranchGenerator {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)

    public static func make<G: RandomNumberGenerator>(using generator: inout G) -> String {
        // 16 base-36 characters (about 82 random bits) from two 64-bit draws.
        var branch = "z9hG4bK"
        for _ in 0..<2 {
            var value = generator.next()
            for _ in 0..<8 {
                branch.append(Character(Unicode.Scalar(alphabet[Int(value % 36)])))
                value /= 36
            }
        }
        return branch
    }

    public static func make() -> String {
        var generator = BufferedSystemRandom()
        return make(using: &generator)
    }
}

extension SIPRequest {
    /// The CANCEL for this INVITE (§9.1): same Request-URI, Call-ID, To, From, CSeq number, top
    /// Via (same branch) and Route headers.
    public func makeCancel() -> SIPRequest {
        var headers = SIPHeaders()
        if let via = self.headers.values(.via).first { headers.add(.via, SIPHeaders.splitCommaList(via).first ?? via) }
        headers.add(.maxForwards, "70")
        if let from = self.headers[.from] { headers.add(.from, from) }
        if let to = self.headers[.to] { headers.add(.to, to) }
        if let callID { headers.add(.callID, callID) }
        headers.add(.cseq, CSeq(cseq?.sequence ?? 1, .cancel).description)
        for route in self.headers.values(.route) { headers.add(.route, route) }
        return SIPRequest(method: .cancel, uri: uri, headers: headers)
    }
}
