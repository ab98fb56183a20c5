// SDES (RFC 4568): `a=crypto` lines offering SRTP master keys, and the media encryption policy.
// Only the keys' text lives here; the SRTP transform itself is in the SRTP module.

/// The SRTP crypto suites this endpoint speaks (RFC 4568 §6.2). Both use AES-128 in counter mode;
/// SRTCP always carries an 80-bit tag (RFC 4568 §6.2.2).
public enum SRTPSuite: String, Sendable, Hashable, CaseIterable {
    case aesCM128HmacSHA1_80 = "AES_CM_128_HMAC_SHA1_80"
    case aesCM128HmacSHA1_32 = "AES_CM_128_HMAC_SHA1_32"

    /// Master key (16 bytes) and master salt (14 bytes).
    public static let keyLength = 30
}

/// Whether a side's media is encrypted (the phone's `mediaEncryption`, the call server's per user).
public enum MediaEncryptionPolicy: String, Sendable, Hashable, CaseIterable, Codable {
    /// Plain RTP; an offer that insists on SRTP (RTP/SAVP) is refused.
    case off
    /// SRTP when the far end takes it (offered as RTP/AVP with `a=crypto`), plain RTP otherwise.
    case optional
    /// SRTP or no call (offered as RTP/SAVP; an offer or answer without usable keys is refused).
    case required
}

/// One `a=crypto:<tag> <suite> inline:<key||salt>[|lifetime][|MKI:length]` line.
public struct CryptoAttribute: Sendable, Hashable {
    public var tag: Int
    /// The suite's name as written (a suite this side does not know is kept, not used).
    public var suiteName: String
    /// Master key and salt, decoded from base64 (30 bytes for the AES-CM-128 suites).
    public var keySalt: [UInt8]
    /// `|lifetime` and `|MKI:length` after the key, as written (an MKI is not used here).
    public var keyParameterTail: String
    /// Session parameters after the key parameters (UNENCRYPTED_SRTP, KDR=…), as written.
    public var sessionParameters: [String]

    public init(tag: Int, suite: SRTPSuite, keySalt: [UInt8]) {
        self.tag = tag
        suiteName = suite.rawValue
        self.keySalt = keySalt
        keyParameterTail = ""
        sessionParameters = []
    }

    public var suite: SRTPSuite? { SRTPSuite(rawValue: suiteName) }

    /// Whether this line can be used as is: a known suite, a 30-byte key, no MKI, one key, and no
    /// session parameter that changes the transform (RFC 4568 §6.3: unencrypted or
    /// unauthenticated SRTP, a key derivation rate, FEC order).
    public var isUsable: Bool {
        suite != nil && keySalt.count == SRTPSuite.keyLength && !keyParameterTail.contains(":") && sessionParameters.isEmpty
    }

    /// Parses the value of an `a=crypto` attribute; nil if it is not one.
    public init?(value: String) {
        let fields = value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count >= 3, let tag = Int(fields[0]), tag >= 0, tag <= 999_999_999,
              fields[2].hasPrefix("inline:") else { return nil }
        // Several keys (`;`-separated) are allowed by the grammar; only the first is read.
        let keyParameters = fields[2].dropFirst("inline:".count).split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        let parts = keyParameters.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        guard let key = Base64.decode(String(parts[0])) else { return nil }
        self.tag = tag
        suiteName = fields[1]
        keySalt = key
        keyParameterTail = parts.count > 1 ? "|" + parts[1] : ""
        if fields[2].contains(";") { sessionParameters = ["(several keys)"] } else { sessionParameters = Array(fields.dropFirst(3)) }
    }

    public var value: String {
        ([String(tag), suiteName, "inline:" + Base64.encode(keySalt) + keyParameterTail] + sessionParameters).joined(separator: " ")
    }
}

extension MediaDescription {
    /// The stream's `a=crypto` lines that parse, in order.
    public var cryptoAttributes: [CryptoAttribute] { attributeValues("crypto").compactMap(CryptoAttribute.init(value:)) }

    /// RTP/SAVP (or SAVPF): the stream is SRTP or nothing (RFC 3711 §12, RFC 4568 §3).
    public var requiresSRTP: Bool { proto.uppercased().hasPrefix("RTP/SAVP") }
}

/// Standard base64 (RFC 4648 §4) for SDES keys; SDP stays free of other modules.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Nil for text that is not padded base64 (SDES keys are always padded: 30 bytes → 40 chars).
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard !chars.isEmpty, chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var index = 0
        while index < chars.count {
            var values: [UInt8] = []
            var padding = 0
            for c in chars[index..<index + 4] {
                if c == UInt8(ascii: "=") { padding += 1; continue }
                guard padding == 0, let v = value(of: c) else { return nil }
                values.append(v)
            }
            guard padding <= 2, padding == 0 || index + 4 == chars.count else { return nil }
            out.append(values[0] << 2 | values[1] >> 4)
            if values.count > 2 { out.append(values[1] << 4 | values[2] >> 2) }
            if values.count > 3 { out.append(values[2] << 6 | values[3]) }
            index += 4
        }
        return out
    }

    private static func value(of c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
