// Each user's media encryption policy (`users[].mediaEncryption`), applied to the offers the call
// server relays: `required` refuses a call from or to the user whose offer carries no usable SDES
// key, `off` takes the keys out of offers from and to the user, `optional` relays them as they are.
// The transport takes keys out of any SDP sent in clear (SDESGuard), so a key only reaches a
// phone registered over TLS.

import SDP
import SIP
import SIPMessage

extension CallServer {
    func mediaEncryption(of user: String) -> MediaEncryptionPolicy {
        configuration.user(user)?.mediaEncryption ?? .optional
    }

    /// Whether an offer has an audio stream with an SDES key this server's phones can use.
    static func offersUsableKey(_ body: [UInt8]) -> Bool {
        guard let sdp = try? SessionDescription(parsing: String(decoding: body, as: UTF8.self)) else { return false }
        return sdp.media.contains { $0.media == "audio" && !$0.isRejected && $0.cryptoAttributes.contains(where: \.isUsable) }
    }

    /// Why `user`'s policy refuses this offer, or nil. Offerless INVITEs are not judged here (the
    /// answerer's offer is; the phones refuse what their own policy does not allow).
    func encryptionRefusal(of body: [UInt8], for user: String, side: String) -> String? {
        guard !body.isEmpty, mediaEncryption(of: user) == .required, !Self.offersUsableKey(body) else { return nil }
        return "\(user) takes only encrypted calls (SRTP over TLS) and the \(side) offer has no usable SRTP key"
    }

    /// The offer as `user`'s policy lets it reach or leave them.
    func applyingEncryptionPolicy(_ body: [UInt8], for user: String) -> [UInt8] {
        mediaEncryption(of: user) == .off ? SDESGuard.removingKeys(fromSDP: body) : body
    }

    static func encryptionWarning(_ host: String, _ reason: String) -> String { "302 \(host) \"\(reason)\"" }

    /// A 488 naming the policy (Warning 302: incompatible transport protocol, as RTP/SAVP is).
    func encryptionRefusalResponse(_ request: SIPRequest, reason: String) -> SIPResponse {
        var refused = SIPResponse(replyingTo: request, statusCode: 488, reasonPhrase: "Not Acceptable Here", toTag: Self.newTag())
        refused.headers.add(.warning, Self.encryptionWarning(configuration.domain, reason))
        return refused
    }
}
