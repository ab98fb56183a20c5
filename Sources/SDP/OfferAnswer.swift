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
}

public enum NegotiationError: Error, Sendable, Equatable, CustomStringConvertible {
    case noAudioStream
    case noCommonCodec(offered: [String])
    case malformed(String)

    /// Text for a Warning header (RFC 3261 §20.43, code 304/305) on a 488.
    public var description: String {
        switch self {
        case .noAudioStream: return "no audio stream offered"
        case .noCommonCodec(let offered): return "no common codec (offered: \(offered.joined(separator: ", ")); supported: PCMU, PCMA)"
        case .malformed(let why): return "malformed SDP: \(why)"
        }
    }

    /// The SIP Warning code: 304 media type not available, 305 incompatible media format.
    public var warningCode: Int {
        switch self {
        case .noAudioStream: return 304
        default: return 305
        }
    }
}

public struct MediaEndpoint: Sendable, Hashable {
    public var address: String
    public var port: Int
    public var formats: [PayloadFormat]
    public var ptime: Int

    public init(address: String, port: Int, formats: [PayloadFormat] = [.pcmu, .pcma, .telephoneEvent], ptime: Int = 20) {
        self.address = address
        self.port = port
        self.formats = formats
        self.ptime = ptime
    }
}

public enum OfferAnswer {
    /// An offer with one audio stream.
    public static func offer(_ local: MediaEndpoint, sessionID: UInt64, version: UInt64, direction: MediaDirection = .sendrecv) -> SessionDescription {
        var media = MediaDescription(port: local.port, formats: local.formats.map { String($0.payloadType) })
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
    /// `direction` is what this side wants (sendrecv, or sendonly to hold).
    public static func answer(
        _ offer: SessionDescription, local: MediaEndpoint, sessionID: UInt64, version: UInt64,
        direction: MediaDirection = .sendrecv
    ) throws(NegotiationError) -> (SessionDescription, NegotiatedAudio) {
        var answerMedia: [MediaDescription] = []
        var agreed: NegotiatedAudio?
        var offeredNames: [String] = []
        for stream in offer.media {
            var refused = MediaDescription(media: stream.media, port: 0, proto: stream.proto, formats: stream.formats)
            refused.attributes = []
            guard agreed == nil, stream.media == "audio", !stream.isRejected, stream.proto.hasPrefix("RTP/AVP") else {
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
            var media = MediaDescription(port: local.port, formats: [String(codec.payloadType)] + (event.map { [String($0.payloadType)] } ?? []))
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
        }
        guard let agreed else {
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
        return NegotiatedAudio(
            remoteAddress: address, remotePort: stream.port, codec: codec,
            telephoneEventPayloadType: answered.first(where: \.isTelephoneEvent)?.payloadType,
            direction: offeredDirection.intersect(answeredDirection.reversed), ptime: stream.ptime ?? 20
        )
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
