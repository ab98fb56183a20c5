import Foundation

// SIP headers the call server adds for the project's own programs: named once for the call
// server that writes them and the phones and media hosts that read them.

public enum HoldfastHeader {
    /// The call server's id of the call a request belongs to: a phone keeps it as its call's
    /// `serverCall`, a media host names a conference participant by it.
    public static let call = "X-Holdfast-Call"
    /// An ACD offer: `agent=7001;path=5000;name="Sales"`.
    public static let acd = "X-Holdfast-ACD"

    /// The `key=value` pairs of one of these headers (`;`-separated; quotes around a value dropped).
    public static func fields(_ value: String) -> [String: String] {
        var fields: [String: String] = [:]
        for part in value.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, fields[pair[0].lowercased()] == nil else { continue }
            fields[pair[0].lowercased()] = pair[1].count >= 2 && pair[1].hasPrefix("\"") && pair[1].hasSuffix("\"") ? String(pair[1].dropFirst().dropLast()) : pair[1]
        }
        return fields
    }
}

/// A call coming back to someone who let it go: a blind transfer its target did not answer, a
/// call held too long, a parked call nobody took. The call server marks the INVITE with it
/// (`X-Holdfast-Recall: from=2003;reason=transfer`); the phone shows the call as a recall.
public struct RecallMark: Sendable, Equatable, Codable {
    public enum Reason: String, Sendable, Codable, CaseIterable {
        case transfer, hold, park
    }

    public static let header = "X-Holdfast-Recall"

    /// Where the call was when it came back: the transfer's target, the holder, the park slot.
    public var from: String
    public var reason: Reason

    public init(from: String, reason: Reason) {
        self.from = from
        self.reason = reason
    }

    public var headerValue: String { "from=\(from);reason=\(reason.rawValue)" }

    /// Reads the header's value; nil when it is not a recall mark (no `from`, an unknown reason).
    public init?(header: String?) {
        guard let header else { return nil }
        let fields = HoldfastHeader.fields(header)
        guard let from = fields["from"], !from.isEmpty, from.count <= 64,
              let reason = fields["reason"].flatMap(Reason.init(rawValue:)) else { return nil }
        self.init(from: from, reason: reason)
    }

    /// The caller's display name on a device that knows nothing of the header:
    /// "Recall: 2003 did not answer — Brook Taylor".
    public func displayName(party: String) -> String {
        switch reason {
        case .transfer: "Recall: \(from) did not answer — \(party)"
        case .hold: "Recall: on hold — \(party)"
        case .park: "Recall: parked on \(from) — \(party)"
        }
    }
}

/// A call for the attendant, on the INVITE that rings each desktop console: why it came and
/// since when it waits (`X-Holdfast-Console: reason=direct;since=1796220000`).
public struct ConsoleMark: Sendable, Equatable, Codable {
    public static let header = "X-Holdfast-Console"

    /// `direct` (dialed), or the forwarding that sent it (`forwardNoAnswer`, `forwardBusy`, `forwardAlways`).
    public var reason: String
    public var since: Date

    public init(reason: String, since: Date) {
        self.reason = reason
        self.since = since
    }

    public var headerValue: String { "reason=\(reason);since=\(Int(since.timeIntervalSince1970))" }

    public init?(header: String?) {
        guard let header else { return nil }
        let fields = HoldfastHeader.fields(header)
        guard let reason = fields["reason"], !reason.isEmpty, reason.count <= 32, reason.allSatisfy({ $0.isLetter }),
              let since = fields["since"].flatMap(Double.init) else { return nil }
        self.init(reason: reason, since: Date(timeIntervalSince1970: since))
    }
}
