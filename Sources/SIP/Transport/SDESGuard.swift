// SDES keys (RFC 4568 `a=crypto` lines) travel in the SDP body in clear text, so they are only
// as secret as the signalling: RFC 4568 §8.3 asks for a secure transport. The transport removes
// them from any SDP it writes on UDP or TCP, whatever part of a program built the message. An
// offer that insists on SRTP (RTP/SAVP) then arrives without keys and is refused by the far end
// with a 488; a best-effort offer (RTP/AVP with keys) becomes plain RTP.

import SIPMessage

public enum SDESGuard {
    /// The message with every `a=crypto` line taken out of an SDP body (the same message when it
    /// has none).
    public static func withoutKeys(_ message: SIPMessage) -> SIPMessage {
        switch message {
        case .request(var request):
            guard strip(&request) else { return message }
            return .request(request)
        case .response(var response):
            guard strip(&response) else { return message }
            return .response(response)
        }
    }

    private static let marker = Array("a=crypto:".utf8)

    /// An SDP body without its `a=crypto` lines.
    public static func removingKeys(fromSDP body: [UInt8]) -> [UInt8] { keysRemoved(body) ?? body }

    static func strip(_ message: inout some SIPMessageHeaders) -> Bool {
        guard !message.body.isEmpty, message.contentType?.essence == "application/sdp", let kept = keysRemoved(message.body) else { return false }
        message.body = kept
        return true
    }

    /// The body without its crypto lines, or nil when it has none.
    static func keysRemoved(_ body: [UInt8]) -> [UInt8]? {
        guard contains(body, marker) else { return nil }
        var kept: [UInt8] = []
        kept.reserveCapacity(body.count)
        var start = 0
        while start < body.count {
            var end = start
            while end < body.count, body[end] != 0x0A { end += 1 }
            let lineEnd = min(end + 1, body.count)
            if !body[start..<lineEnd].starts(with: marker) { kept.append(contentsOf: body[start..<lineEnd]) }
            start = lineEnd
        }
        return kept
    }

    private static func contains(_ bytes: [UInt8], _ needle: [UInt8]) -> Bool {
        guard bytes.count >= needle.count else { return false }
        for i in 0...(bytes.count - needle.count) where bytes[i] == needle[0] && bytes[i..<i + needle.count].elementsEqual(needle) { return true }
        return false
    }
}
