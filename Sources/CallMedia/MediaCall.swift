// Glue between a SIP dialog and its media session: SDP offer/answer, INFO and re-INVITE handling,
// for every program with calls (the phone, the SIP test tools).

import Audio
import Foundation
import Media
import NIOCore
import RTP
import SDP
import SIP
import SIPCore
import SIPMessage

public enum SDPBody {
    public static func parse(_ body: [UInt8]) throws(NegotiationError) -> SessionDescription {
        do {
            return try SessionDescription(parsing: String(decoding: body, as: UTF8.self))
        } catch {
            throw NegotiationError.malformed(error.reason)
        }
    }

    /// A 488 with a Warning naming the problem (RFC 3261 §20.43, §21.4.26).
    public static func notAcceptable(_ error: NegotiationError, host: String) -> InviteDecision {
        .reject(status: 488, reason: "Not Acceptable Here", headers: [(.warning, "\(error.warningCode) \(host) \"\(error.description)\"")])
    }
}

/// A live call's media and the digits seen on it.
public actor MediaCall {
    public nonisolated let session: MediaSession
    /// Who the call is with, for summaries.
    public nonisolated let remote: String
    public nonisolated let started = ContinuousClock.now
    public var local: MediaEndpoint
    public var version: UInt64 = 1
    public nonisolated let sessionID = UInt64.random(in: 1...UInt64(Int64.max))
    /// The far end's last offer stopped it receiving from us (sendonly or inactive): it holds the call.
    public private(set) var heldByFarEnd = false
    /// Our offer in a 2xx to a re-INVITE that had none (RFC 3261 §14.1): the ACK brings the answer.
    var offerAwaitingAnswer: SessionDescription?
    /// What this side last asked for (sendonly while it holds the call).
    var wanted = MediaDirection.sendrecv

    /// `direction` is what this side wants of the call (sendonly for one that only plays).
    public init(session: MediaSession, remote: String, local: MediaEndpoint, direction: MediaDirection = .sendrecv) {
        self.session = session
        self.remote = remote
        self.local = local
        self.wanted = direction
    }

    /// Answers a re-offer in the dialog (hold, resume, moved address).
    public func answer(reoffer: SessionDescription) async throws(NegotiationError) -> [UInt8] {
        let offered = reoffer.media.first?.explicitDirection ?? reoffer.direction
        heldByFarEnd = !offered.receives
        version += 1
        let (answer, agreed) = try OfferAnswer.answer(reoffer, local: local, sessionID: sessionID, version: version, direction: wanted)
        try? await session.update(agreed)
        return Array(answer.text.utf8)
    }

    /// Our next offer (the version after the last one sent): a new call, hold (`sendonly`), retrieve.
    public func offer(direction: MediaDirection = .sendrecv) -> SessionDescription {
        wanted = direction
        version += 1
        return OfferAnswer.offer(local, sessionID: sessionID, version: version, direction: direction)
    }

    /// Our offer in a 2xx to an INVITE that had none (RFC 3261 §13.2.1, §14.1), the session as
    /// it is; the ACK brings the answer (`acknowledged`).
    public func offerInAnswer() -> [UInt8] {
        let ours = offer(direction: wanted)
        offerAwaitingAnswer = ours
        return Array(ours.text.utf8)
    }

    /// The ACK of a 2xx that made an offer carries the answer (§14.1, §13.2.1).
    public func acknowledged(_ ack: SIPRequest) async {
        guard let offer = offerAwaitingAnswer, !ack.body.isEmpty else { return }
        offerAwaitingAnswer = nil
        if let answer = try? SDPBody.parse(ack.body), let agreed = try? OfferAnswer.accept(answer: answer, to: offer) {
            try? await session.update(agreed)
        }
    }

    /// Sends `digits` as RFC 4733 events when the far end agreed to them, else (SIP INFO fallback)
    /// one INFO `application/dtmf-relay` per digit through `info`, each after the previous one's
    /// 2xx, so they arrive in order. Returns the method used.
    @discardableResult
    public func sendDigits(_ digits: String, info: @Sendable (DTMFRelay) async throws -> SIPResponse) async throws -> DTMFMethod {
        guard await !session.sendsTelephoneEvents else {
            await session.sendDigits(digits)
            return .rfc4733
        }
        for digit in digits {
            let response = try await info(DTMFRelay(signal: digit))
            guard response.isSuccess else { throw DTMFFailure(status: response.statusCode, reason: response.reasonPhrase) }
        }
        return .info
    }

    /// Handles INFO (DTMF relay) and re-INVITE inside the call.
    public func handleInDialog(_ request: SIPRequest) async -> SIPResponse {
        switch request.method {
        case .info:
            if request.contentType?.essence == "application/dtmf-relay", let relay = DTMFRelay(body: request.bodyText) {
                await session.receivedINFO(relay)
                return SIPResponse(replyingTo: request, statusCode: 200)
            }
            return SIPResponse(replyingTo: request, statusCode: 415, reasonPhrase: "Unsupported INFO package")
        case .invite, .update:
            guard !request.body.isEmpty else {
                var ok = SIPResponse(replyingTo: request, statusCode: 200)
                ok.setBody(offerInAnswer(), contentType: .sdp)
                return ok
            }
            do {
                let body = try await answer(reoffer: try SDPBody.parse(request.body))
                var ok = SIPResponse(replyingTo: request, statusCode: 200)
                ok.setBody(body, contentType: .sdp)
                return ok
            } catch {
                var refused = SIPResponse(replyingTo: request, statusCode: 488)
                refused.headers.add(.warning, "\(error.warningCode) holdfast \"\(error.description)\"")
                return refused
            }
        default:
            return SIPResponse(replyingTo: request, statusCode: 200)
        }
    }
}

/// How a call sends DTMF.
public enum DTMFMethod: String, Sendable, Encodable {
    case rfc4733
    case info
}

/// The far end refused a SIP INFO digit.
public struct DTMFFailure: Error, CustomStringConvertible {
    public var status: Int
    public var reason: String
    public var description: String { "the far end refused the INFO digit: \(status) \(reason)" }
}
