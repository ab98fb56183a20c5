// Small edits to a session description the server relays but does not own: the direction
// attribute (hold, retrieve), the origin line (a re-offer continues the session the phone knows,
// RFC 3264 §8), and rejecting every stream (port 0) in an answer we cannot honour.

import Foundation

enum SessionText {
    static func lines(_ sdp: [UInt8]) -> [String] {
        String(decoding: sdp, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    static func bytes(_ lines: [String]) -> [UInt8] { Array((lines.joined(separator: "\r\n") + "\r\n").utf8) }

    static let directions: Set<String> = ["a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"]

    /// Every media section gets `direction` (sendrecv, sendonly, recvonly, inactive) instead of its own.
    static func withDirection(_ sdp: [UInt8], _ direction: String) -> [UInt8] {
        var out: [String] = []
        for line in lines(sdp) where !directions.contains(line.trimmingCharacters(in: .whitespaces)) {
            out.append(line)
            if line.hasPrefix("m=") { out.append("a=\(direction)") }
        }
        return bytes(out)
    }

    /// `sdp` presented as the next version of the session last given to a phone (`previous`):
    /// same o= username, session id and address, version one higher.
    static func continuing(_ sdp: [UInt8], after previous: [UInt8]?) -> [UInt8] {
        guard let previous, let old = lines(previous).first(where: { $0.hasPrefix("o=") }) else { return sdp }
        var fields = old.dropFirst(2).split(separator: " ").map(String.init)
        guard fields.count == 6, let version = UInt64(fields[2]) else { return sdp }
        fields[2] = String(version &+ 1)
        return bytes(lines(sdp).map { $0.hasPrefix("o=") ? "o=" + fields.joined(separator: " ") : $0 })
    }

    /// An answer refusing every stream of `offer` (RFC 3264 §6: port 0).
    static func rejecting(_ offer: [UInt8]) -> [UInt8] {
        bytes(lines(offer).map { line in
            guard line.hasPrefix("m=") else { return line }
            var parts = line.split(separator: " ").map(String.init)
            if parts.count > 1 { parts[1] = "0" }
            return parts.joined(separator: " ")
        })
    }

    static func direction(_ sdp: [UInt8]) -> String? {
        lines(sdp).first { directions.contains($0.trimmingCharacters(in: .whitespaces)) }.map { String($0.dropFirst(2)) }
    }
}
