// The SRTP and SRTCP transform (RFC 3711) of one stream, on libsrtp2: packets this side sends are
// protected with its own master key, packets it receives are authenticated and decrypted with the
// far end's, with replay protection. Keys come from SDES (the SDP module's SRTPKeys).

import CSRTP
import SDP

public struct SRTPError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var operation: String

    public var description: String {
        let reason: String = switch UInt32(status) {
        case srtp_err_status_auth_fail.rawValue: "authentication failed"
        case srtp_err_status_replay_fail.rawValue: "replayed packet"
        case srtp_err_status_replay_old.rawValue: "packet too old for the replay window"
        case srtp_err_status_bad_param.rawValue: "bad parameter"
        case srtp_err_status_no_ctx.rawValue: "no context for the stream"
        case srtp_err_status_cant_check.rawValue: "cannot check the packet"
        default: "libsrtp error \(status)"
        }
        return "SRTP \(operation): \(reason)"
    }

    /// A packet that failed authentication or the replay check (dropped and counted, not fatal).
    public var isPacketRejected: Bool {
        [srtp_err_status_auth_fail.rawValue, srtp_err_status_replay_fail.rawValue, srtp_err_status_replay_old.rawValue].contains(UInt32(status))
    }
}

/// libsrtp2 is initialised once per process, before the first context.
private let libraryReady: Int = Int(srtp_init().rawValue)

/// One stream's SRTP state: an outbound session keyed with this side's key, an inbound session
/// keyed with the far end's. Used by one owner at a time (a media session's actor).
public final class SRTPContext {
    public let suite: SRTPSuite
    private var outbound: srtp_t?
    private var inbound: srtp_t?
    /// Replay window in packets (RFC 3711 §3.3.2: at least 64; libsrtp's default is 128).
    public static let replayWindow = 1024

    public init(keys: SRTPKeys) throws(SRTPError) {
        guard libraryReady == Int(srtp_err_status_ok.rawValue) else { throw SRTPError(status: libraryReady, operation: "initialisation") }
        guard keys.local.count == SRTPSuite.keyLength, keys.remote.count == SRTPSuite.keyLength else {
            throw SRTPError(status: Int(srtp_err_status_bad_param.rawValue), operation: "key length")
        }
        suite = keys.suite
        outbound = try Self.session(key: keys.local, suite: keys.suite, direction: ssrc_any_outbound)
        do {
            inbound = try Self.session(key: keys.remote, suite: keys.suite, direction: ssrc_any_inbound)
        } catch {
            srtp_dealloc(outbound)
            outbound = nil
            throw error
        }
    }

    deinit {
        if let outbound { srtp_dealloc(outbound) }
        if let inbound { srtp_dealloc(inbound) }
    }

    private static func session(key: [UInt8], suite: SRTPSuite, direction: srtp_ssrc_type_t) throws(SRTPError) -> srtp_t? {
        var policy = srtp_policy_t()
        switch suite {
        case .aesCM128HmacSHA1_80: srtp_crypto_policy_set_rtp_default(&policy.rtp)
        case .aesCM128HmacSHA1_32: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp)
        }
        // SRTCP keeps an 80-bit tag whatever the SRTP suite (RFC 4568 §6.2.2).
        srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        policy.ssrc.type = direction
        policy.window_size = UInt(replayWindow)
        policy.allow_repeat_tx = 0
        var session: srtp_t?
        var material = key
        let status = material.withUnsafeMutableBufferPointer { buffer -> srtp_err_status_t in
            policy.key = buffer.baseAddress
            return srtp_create(&session, &policy)
        }
        guard status == srtp_err_status_ok else { throw SRTPError(status: Int(status.rawValue), operation: "session creation") }
        return session
    }

    /// An RTP packet made SRTP (the payload encrypted, the authentication tag appended).
    public func protect(rtp packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try transform(packet, extra: Int(SRTP_MAX_TRAILER_LEN), operation: "protect") { srtp_protect(outbound, $0, $1) }
    }

    /// An SRTP packet back to RTP; throws for one that fails authentication or is a replay.
    public func unprotect(rtp packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try transform(packet, extra: 0, operation: "unprotect") { srtp_unprotect(inbound, $0, $1) }
    }

    public func protect(rtcp packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try transform(packet, extra: Int(SRTP_MAX_TRAILER_LEN) + 4, operation: "protect RTCP") { srtp_protect_rtcp(outbound, $0, $1) }
    }

    public func unprotect(rtcp packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try transform(packet, extra: 0, operation: "unprotect RTCP") { srtp_unprotect_rtcp(inbound, $0, $1) }
    }

    private func transform(
        _ packet: [UInt8], extra: Int, operation: String,
        _ body: (UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> srtp_err_status_t
    ) throws(SRTPError) -> [UInt8] {
        // libsrtp reads a 12-byte header before checking lengths itself.
        guard packet.count >= 12 else { throw SRTPError(status: Int(srtp_err_status_bad_param.rawValue), operation: operation) }
        var buffer = packet + [UInt8](repeating: 0, count: extra)
        var length = Int32(packet.count)
        let status = buffer.withUnsafeMutableBytes { body($0.baseAddress!, &length) }
        guard status == srtp_err_status_ok else { throw SRTPError(status: Int(status.rawValue), operation: operation) }
        return Array(buffer.prefix(Int(length)))
    }
}
