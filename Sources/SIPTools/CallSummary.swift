// What `sip call` and `sip answer` report per call.

import CallMedia
import Foundation
import SIPMessage

public struct CallSummary: Codable, Sendable, Equatable {
    public var remote: String
    public var codec: String
    public var packetsSent: Int
    public var packetsReceived: Int
    public var packetsLost: Int
    /// Digits received (RFC 4733 events and SIP INFO).
    public var dtmf: String
    public var durationMs: Int
    /// The final status when the call did not connect (absent when it did).
    public var status: Int?
    public var error: String?

    public init(remote: String, codec: String, packetsSent: Int, packetsReceived: Int, packetsLost: Int, dtmf: String, durationMs: Int, status: Int? = nil, error: String? = nil) {
        self.remote = remote
        self.codec = codec
        self.packetsSent = packetsSent
        self.packetsReceived = packetsReceived
        self.packetsLost = packetsLost
        self.dtmf = dtmf
        self.durationMs = durationMs
        self.status = status
        self.error = error
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public var text: String {
        if let error { return "call to \(remote) failed: \(error)" }
        return "call with \(remote): \(codec), \(durationMs) ms, sent \(packetsSent), received \(packetsReceived), lost \(packetsLost), DTMF received \"\(dtmf)\""
    }
}

extension MediaCall {
    func summary() async -> CallSummary {
        let counters = await session.counters
        let elapsed = ContinuousClock.now - started
        return CallSummary(
            remote: remote, codec: await session.codecName, packetsSent: counters.packetsSent,
            packetsReceived: counters.packetsReceived, packetsLost: counters.packetsLost,
            dtmf: await session.digitsReceived, durationMs: Int(elapsed / .milliseconds(1))
        )
    }
}

extension NameAddress {
    /// "Display Name <number>" or the user part, for summaries.
    var summaryText: String {
        let user = uri.user ?? uri.description
        if let displayName, !displayName.isEmpty { return "\(displayName) <\(user)>" }
        return user
    }
}
