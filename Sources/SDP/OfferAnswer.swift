// RFC 3264 offer/answer for audio: making offers, answering them, reading the answer, and hold.

/// An RTP payload format this endpoint can use.
public struct PayloadFormat: Sendable, Hashable {
    public var name: String
    public var clockRate: Int
    /// The payload type this side uses in its offers (static types keep theirs).
    public var payloadType: Int
    public var fmtp: String?

    public init(name: String, clockRate: Int, payloadType: Int, fmtp: String? = nil) {
        self.name = name
        self.clockRate = clockRate
        self.payloadType = payloadType
        self.fmtp = fmtp
    }

    public static let pcmu = PayloadFormat(name: "PCMU", clockRate: 8000, payloadType: 0)
    public static let pcma = PayloadFormat(name: "PCMA", clockRate: 8000, payloadType: 8)
    /// RFC 4733 DTMF events.
    public static let telephoneEvent = PayloadFormat(name: "telephone-event", clockRate: 8000, payloadType: 101, fmtp: "0-16")

    var isTelephoneEvent: Bool { name.lowercased() == "telephone-event" }
}

/// What was agreed for an audio stream.
public struct NegotiatedAudio: Sendable, Hashable {
    public var remoteAddress: String
    public var remotePort: Int
    /// The codec both sides send, with the payload type the answer uses.
    public var codec: PayloadFormat
    /// The RFC 4733 payload type, when both sides support it.
    public var telephoneEventPayloadType: Int?
    /// What this side may do: send and/or receive.
    public var direction: MediaDirection
    public var ptime: Int
    /// The SRTP keys agreed (SDES, RFC 4568), or nil for plain RTP.
    public var srtp: SRTPKeys? = nil
}

/// The keys of an SRTP stream: this side's to send with, the far end's to receive with.
public struct SRTPKeys: Sendable, Hashable {
    public var suite: SRTPSuite
    public var local: [UInt8]
    public var remote: [UInt8]

    public init(suite: SRTPSuite, local: [UInt8], remote: [UInt8]) {
        self.suite = suite
        self.local = local
        self.remote = remote
    }
}

/// This side's media encryption: the policy (optional or required; nil on the endpoint is off)
/// and the master key and salt it offers, kept for the call so re-offers carry the same key.
public struct LocalSRTP: Sendable, Hashable {
    public var policy: MediaEncryptionPolicy
    public var keySalt: [UInt8]

    public init(policy: MediaEncryptionPolicy, keySalt: [UInt8]) {
        self.policy = policy
        self.keySalt = keySalt
    }

    /// A policy with a fresh key, or nil for `off`.
    public static func make(_ policy: MediaEncryptionPolicy, using generator: inout some RandomNumberGenerator) -> LocalSRTP? {
        guard policy != .off else { return nil }
        return LocalSRTP(policy: policy, keySalt: (0..<SRTPSuite.keyLength).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    public static func make(_ policy: MediaEncryptionPolicy) -> LocalSRTP? {
        var generator = SystemRandomNumberGenerator()
        return make(policy, using: &generator)
    }
}

public enum NegotiationError: Error, Sendable, Equatable, CustomStringConvertible {
    case noAudioStream
    case noCommonCodec(offered: [String])
    case malformed(String)
    /// The offer insists on SRTP (RTP/SAVP) and media encryption is off here.
    case encryptionOff
    /// Media encryption is required here and the offer or answer carried no usable key.
    case encryptionRequired
    /// SRTP was offered with no suite this side speaks (or with parameters it does not use).
    case noUsableCrypto(offered: [String])

    /// Text for a Warning header (RFC 3261 §20.43, code 304/305) on a 488.
    public var description: String {
        switch self {
        case .noAudioStream: return "no audio stream offered"
        case .noCommonCodec(let offered): return "no common codec (offered: \(offered.joined(separator: ", ")); supported: PCMU, PCMA)"
        case .malformed(let why): return "malformed SDP: \(why)"
        case .encryptionOff: return "the offer requires SRTP (RTP/SAVP) and media encryption is off here"
        case .encryptionRequired: return "media encryption is required here and the session description has no usable SRTP key (a=crypto)"
        case .noUsableCrypto(let offered):
            return "no usable SRTP crypto suite (offered: \(offered.joined(separator: ", "))); supported: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32 without MKI or session parameters"
        }
    }

    /// The SIP Warning code: 304 media type not available, 305 incompatible media format.
    public var warningCode: Int {
        switch self {
        case .noAudioStream: return 304
        case .encryptionOff, .encryptionRequired, .noUsableCrypto: return 302  // incompatible transport protocol
        default: return 305
        }
    }
}

public struct MediaEndpoint: Sendable, Hashable {
    public var address: String
    public var port: Int
    public var formats: [PayloadFormat]
    public var ptime: Int
    /// SRTP offered and accepted (SDES); nil is plain RTP only.
    public var srtp: LocalSRTP?

    public init(address: String, port: Int, formats: [PayloadFormat] = [.pcmu, .pcma, .telephoneEvent], ptime: Int = 20, srtp: LocalSRTP? = nil) {
        self.address = address
        self.port = port
        self.formats = formats
        self.ptime = ptime
        self.srtp = srtp
    }
}

public enum OfferAnswer {
    /// An offer with one audio stream. With SRTP, the key goes in an `a=crypto` line, on RTP/SAVP
    /// when it is required and on RTP/AVP when it is optional (plain RTP if the answer has no key).
    public static func offer(_ local: MediaEndpoint, sessionID: UInt64, version: UInt64, direction: MediaDirection = .sendrecv) -> SessionDescription {
        var media = MediaDescription(port: local.port, proto: local.srtp?.policy == .required ? "RTP/SAVP" : "RTP/AVP",
                                     formats: local.formats.map { String($0.payloadType) })
        if let srtp = local.srtp {
            media.attributes.append(Attribute("crypto", CryptoAttribute(tag: 1, suite: .aesCM128HmacSHA1_80, keySalt: srtp.keySalt).value))
        }
        for format in local.formats {
            media.attributes.append(Attribute("rtpmap", "\(format.payloadType) \(format.name)/\(format.clockRate)"))
            if let fmtp = format.fmtp { media.attributes.append(Attribute("fmtp", "\(format.payloadType) \(fmtp)")) }
        }
        media.attributes.append(Attribute("ptime", String(local.ptime)))
        media.setDirection(direction)
        return SessionDescription(
            origin: .init(sessionID: sessionID, sessionVersion: version, address: local.address),
            connection: .init(address: local.address), media: [media]
        )
    }

    /// Answers an offer (RFC 3264 §6): the first offered audio stream with a codec in common is
    /// accepted (with telephone-event if offered), every other stream is refused with port 0.
    /// SRTP (RFC 4568): an RTP/SAVP stream needs local SRTP and a usable key; an RTP/AVP stream
    /// with a usable key is answered with ours when SRTP is on; without a key, a side that
    /// requires SRTP refuses the stream.
    /// `direction` is what this side wants (sendrecv, or sendonly to hold).
    public static func answer(
        _ offer: SessionDescription, local: MediaEndpoint, sessionID: UInt64, version: UInt64,
        direction: MediaDirection = .sendrecv
    ) throws(NegotiationError) -> (SessionDescription, NegotiatedAudio) {
        var answerMedia: [MediaDescription] = []
        var agreed: NegotiatedAudio?
        var offeredNames: [String] = []
        var encryptionProblem: NegotiationError?
        for stream in offer.media {
            var refused = MediaDescription(media: stream.media, port: 0, proto: stream.proto, formats: stream.formats)
            refused.attributes = []
            guard agreed == nil, stream.media == "audio", !stream.isRejected,
                  stream.proto.hasPrefix("RTP/AVP") || stream.proto.hasPrefix("RTP/SAVP") else {
                answerMedia.append(refused)
                continue
            }
            let crypto: CryptoAttribute?
            switch keys(offered: stream, local: local.srtp) {
            case .success(let chosen): crypto = chosen
            case .failure(let problem):
                encryptionProblem = problem
                answerMedia.append(refused)
                continue
            }
            let offered = formats(of: stream)
            offeredNames += offered.map(\.name)
            guard let codec = offered.first(where: { format in
                !format.isTelephoneEvent && local.formats.contains { $0.name.lowercased() == format.name.lowercased() && $0.clockRate == format.clockRate }
            }) else {
                answerMedia.append(refused)
                continue
            }
            let event = offered.first { $0.isTelephoneEvent && $0.clockRate == 8000 }
            let remoteDirection = stream.explicitDirection ?? offer.direction
            let ours = remoteDirection.reversed.intersect(direction)
            var media = MediaDescription(port: local.port, proto: stream.proto, formats: [String(codec.payloadType)] + (event.map { [String($0.payloadType)] } ?? []))
            if let crypto, let srtp = local.srtp, let suite = crypto.suite {
                media.attributes.append(Attribute("crypto", CryptoAttribute(tag: crypto.tag, suite: suite, keySalt: srtp.keySalt).value))
            }
            media.attributes.append(Attribute("rtpmap", "\(codec.payloadType) \(codec.name)/\(codec.clockRate)"))
            if let event {
                media.attributes.append(Attribute("rtpmap", "\(event.payloadType) telephone-event/8000"))
                media.attributes.append(Attribute("fmtp", "\(event.payloadType) \(event.fmtp ?? "0-16")"))
            }
            media.attributes.append(Attribute("ptime", String(local.ptime)))
            media.setDirection(ours)
            answerMedia.append(media)
            guard let address = (stream.connection ?? offer.connection)?.address else {
                throw .malformed("audio stream has no connection address")
            }
            agreed = NegotiatedAudio(
                remoteAddress: address, remotePort: stream.port, codec: codec,
                telephoneEventPayloadType: event?.payloadType, direction: ours, ptime: stream.ptime ?? 20
            )
            if let crypto, let srtp = local.srtp, let suite = crypto.suite {
                agreed?.srtp = SRTPKeys(suite: suite, local: srtp.keySalt, remote: crypto.keySalt)
            }
        }
        guard let agreed else {
            if let encryptionProblem { throw encryptionProblem }
            if offeredNames.isEmpty { throw .noAudioStream }
            throw .noCommonCodec(offered: offeredNames.filter { $0.lowercased() != "telephone-event" })
        }
        var answer = SessionDescription(
            origin: .init(sessionID: sessionID, sessionVersion: version, address: local.address),
            connection: .init(address: local.address), media: answerMedia
        )
        answer.timing = offer.timing
        return (answer, agreed)
    }

    /// Reads the answer to our offer: the first accepted audio stream.
    public static func accept(answer: SessionDescription, to offer: SessionDescription) throws(NegotiationError) -> NegotiatedAudio {
        guard let index = answer.media.firstIndex(where: { $0.media == "audio" && !$0.isRejected }) else {
            throw .noAudioStream
        }
        let stream = answer.media[index]
        let answered = formats(of: stream)
        guard let codec = answered.first(where: { !$0.isTelephoneEvent }) else {
            throw .noCommonCodec(offered: answered.map(\.name))
        }
        guard let address = (stream.connection ?? answer.connection)?.address else {
            throw .malformed("audio stream has no connection address")
        }
        let offeredDirection = index < offer.media.count ? (offer.media[index].explicitDirection ?? offer.direction) : .sendrecv
        let answeredDirection = stream.explicitDirection ?? answer.direction
        var agreed = NegotiatedAudio(
            remoteAddress: address, remotePort: stream.port, codec: codec,
            telephoneEventPayloadType: answered.first(where: \.isTelephoneEvent)?.payloadType,
            direction: offeredDirection.intersect(answeredDirection.reversed), ptime: stream.ptime ?? 20
        )
        // SRTP: the answer names one of our offered lines by its tag and gives its own key.
        if index < offer.media.count {
            let ours = offer.media[index]
            let offeredKeys = ours.cryptoAttributes
            if let theirs = stream.cryptoAttributes.first(where: { line in line.isUsable && offeredKeys.contains { $0.tag == line.tag && $0.suiteName == line.suiteName } }),
               let mine = offeredKeys.first(where: { $0.tag == theirs.tag }), let suite = theirs.suite {
                agreed.srtp = SRTPKeys(suite: suite, local: mine.keySalt, remote: theirs.keySalt)
            } else if ours.requiresSRTP {
                throw .encryptionRequired
            }
        }
        return agreed
    }

    /// The offered key this side answers a stream with: nil for plain RTP, or why the stream
    /// cannot be answered.
    static func keys(offered stream: MediaDescription, local: LocalSRTP?) -> Result<CryptoAttribute?, NegotiationError> {
        let lines = stream.cryptoAttributes
        let usable = lines.first(where: \.isUsable)
        if stream.requiresSRTP {
            guard local != nil else { return .failure(.encryptionOff) }
            guard let usable else { return .failure(lines.isEmpty ? .encryptionRequired : .noUsableCrypto(offered: lines.map(\.suiteName))) }
            return .success(usable)
        }
        guard let local else { return .success(nil) }
        if let usable { return .success(usable) }
        return local.policy == .required ? .failure(lines.isEmpty ? .encryptionRequired : .noUsableCrypto(offered: lines.map(\.suiteName))) : .success(nil)
    }

    /// The payload formats of a stream, resolving static types without rtpmap (RFC 3551).
    static func formats(of stream: MediaDescription) -> [PayloadFormat] {
        stream.formats.compactMap { pt -> PayloadFormat? in
            guard let number = Int(pt) else { return nil }
            if let map = stream.rtpmap(for: pt) {
                let parts = map.split(separator: "/")
                guard parts.count >= 2, let rate = Int(parts[1]) else { return nil }
                return PayloadFormat(name: String(parts[0]), clockRate: rate, payloadType: number, fmtp: stream.fmtp(for: pt))
            }
            switch number {
            case 0: return .pcmu
            case 8: return .pcma
            default: return nil
            }
        }
    }
}
