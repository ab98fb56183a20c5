// Splits a message head into lines, unfolds continuation lines, and builds header fields
// (RFC 3261 §7.3.1: LWS folding is equivalent to a single SP).

struct LineReader {
    struct Line {
        var range: Range<Int>
        /// The line starts with whitespace: a continuation of the previous header field.
        var isFolded: Bool
    }

    let bytes: UnsafeBufferPointer<UInt8>
    let limits: SIPParserLimits
    /// Where the next line starts; after the head, where the body starts.
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>, limits: SIPParserLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    /// Keep-alive CRLFs may precede a message on a stream (§7.5).
    mutating func skipLeadingLineBreaks() {
        while position < bytes.count, bytes[position] == .cr || bytes[position] == .lf { position += 1 }
    }

    /// The next line without its line break (CRLF, or a bare LF accepted liberally); nil at the end.
    mutating func nextLine() throws(SIPParseError) -> Line? {
        guard position < bytes.count else { return nil }
        let start = position
        var i = start
        while i < bytes.count, bytes[i] != .lf { i += 1 }
        var end = i
        if end > start, bytes[end - 1] == .cr { end -= 1 }
        guard end - start <= limits.maxLineLength else {
            throw SIPParseError("a line of \(end - start) bytes exceeds the \(limits.maxLineLength)-byte limit")
        }
        position = i < bytes.count ? i + 1 : i
        let folded = end > start && CharacterClass.isWhitespace(bytes[start])
        return Line(range: start..<end, isFolded: folded)
    }

    /// Reads header fields up to the empty line. Malformed lines are skipped and the first problem
    /// returned, so the caller can still answer with what it could read.
    mutating func readHeaders() throws(SIPParseError) -> (SIPHeaders, String?) {
        var headers = SIPHeaders()
        var problem: String?
        var pending: [Line] = []
        while let line = try nextLine() {
            if line.range.isEmpty { break }
            if line.isFolded, !pending.isEmpty {
                pending.append(line)
                continue
            }
            if !pending.isEmpty {
                if let issue = appendField(pending, to: &headers), problem == nil { problem = issue }
            }
            pending = [line]
            if line.isFolded, problem == nil { problem = "a continuation line has no header field to continue" }
            guard headers.count < limits.maxHeaderCount else {
                throw SIPParseError("more than \(limits.maxHeaderCount) header fields")
            }
        }
        if !pending.isEmpty, let issue = appendField(pending, to: &headers), problem == nil { problem = issue }
        // A datagram whose last header line ends the datagram has an empty body (liberal, §18.3).
        return (headers, problem)
    }

    /// Builds one field from its line and continuation lines; returns a problem for a bad line.
    private func appendField(_ lines: [Line], to headers: inout SIPHeaders) -> String? {
        let first = lines[0].range
        var scanner = ByteScanner(bytes, from: first.lowerBound, to: first.upperBound)
        guard let nameRange = scanner.readToken() else {
            return "malformed header line (no field name): \(scanner.string(first).prefix(60))"
        }
        scanner.skipWhitespace()  // HCOLON = *( SP / HTAB ) ":" SWS
        guard scanner.consume(.colon) else {
            return "malformed header line (field name not followed by ':'): \(scanner.string(first).prefix(60))"
        }
        let valueStart = scanner.index
        // Value: this line's rest and each continuation, joined by single spaces, trimmed.
        var value = trimmedRange(valueStart..<first.upperBound)
        var isSimple = lines.count == 1
        var joined: [UInt8] = []
        if !isSimple {
            for (index, line) in lines.enumerated() {
                let part = index == 0 ? value : trimmedRange(line.range)
                if part.isEmpty { continue }
                if !joined.isEmpty { joined.append(.space) }
                joined.append(contentsOf: bytes[part])
            }
        }
        let name = scanner.string(nameRange)
        let key = scanner.lowercasedString(nameRange)
        let valueString: String
        if isSimple {
            valueString = scanner.string(value)
            // Keep the raw line only when `name: value` would not reproduce it exactly.
            isSimple = value.lowerBound == nameRange.upperBound + 2 && bytes[nameRange.upperBound] == .colon
                && bytes[nameRange.upperBound + 1] == .space && value.upperBound == first.upperBound
        } else {
            valueString = String(decoding: joined, as: UTF8.self)
            value = 0..<0
        }
        var rawLine: String?
        if !isSimple {
            let last = lines[lines.count - 1].range
            rawLine = scanner.string(first.lowerBound..<last.upperBound)
        }
        headers.appendParsed(SIPHeaderField(
            name: name, value: valueString, headerName: HeaderName(lowercasedKey: key), rawLine: rawLine
        ))
        return nil
    }

    private func trimmedRange(_ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, CharacterClass.isWhitespace(bytes[lower]) { lower += 1 }
        while upper > lower, CharacterClass.isWhitespace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }
}
