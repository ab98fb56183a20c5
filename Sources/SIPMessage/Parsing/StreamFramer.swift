// Cuts messages out of a byte stream by the empty line and Content-Length (RFC 3261 §18.3),
// recognising RFC 5626 §3.5.1 CRLF keep-alives. Survives partial, pipelined and garbage input.

public struct StreamFramer: Sendable {
    public enum Output: Sendable, Equatable {
        /// The bytes of one whole message, for `SIPParser.parse(_:framing: .stream)`.
        case message([UInt8])
        /// A double CRLF between messages: a keep-alive ping, answered with one CRLF.
        case keepAlivePing
        /// A single CRLF between messages: the answer to our ping.
        case keepAlivePong
        /// A head whose body length cannot be known; it is skipped (with no body) and framing goes on.
        case malformed(head: [UInt8], reason: String)
        /// The stream cannot be framed any more (a head or body over the size limit): close it.
        case fatal(reason: String)
    }

    public let limits: SIPParserLimits
    private var buffer: [UInt8] = []
    private var start = 0
    private var failed = false

    public init(limits: SIPParserLimits = SIPParserLimits()) {
        self.limits = limits
    }

    /// Bytes received but not yet part of a complete message.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func append<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        guard !failed else { return }
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete unit in the stream, or nil until more bytes arrive.
    public mutating func next() -> Output? {
        guard !failed else { return nil }
        // Keep-alives live only between messages.
        if buffer.count - start >= 2, buffer[start] == .cr, buffer[start + 1] == .lf {
            if buffer.count - start >= 4, buffer[start + 2] == .cr, buffer[start + 3] == .lf {
                start += 4
                return .keepAlivePing
            }
            if buffer.count - start == 3, buffer[start + 2] == .cr { return nil }  // half a ping so far
            start += 2
            return .keepAlivePong
        }
        guard let headEnd = findHeadEnd() else {
            if buffer.count - start > limits.maxMessageSize {
                return fail("no end of headers within \(limits.maxMessageSize) bytes")
            }
            return nil
        }
        let head = Array(buffer[start..<headEnd])
        let length: Int
        switch StreamFramer.contentLength(inHead: head) {
        case .success(let value):
            length = value
        case .failure(let error):
            start = headEnd
            return .malformed(head: head, reason: error.reason)
        }
        guard headEnd - start + length <= limits.maxMessageSize else {
            return fail("message of \(headEnd - start + length) bytes exceeds the \(limits.maxMessageSize)-byte limit")
        }
        guard buffer.count >= headEnd + length else { return nil }
        let message = Array(buffer[start..<(headEnd + length)])
        start = headEnd + length
        return .message(message)
    }

    private mutating func fail(_ reason: String) -> Output {
        failed = true
        buffer = []
        start = 0
        return .fatal(reason: reason)
    }

    /// The index just past the CRLFCRLF (or LFLF) that ends the head, if buffered.
    private func findHeadEnd() -> Int? {
        var i = start
        let end = buffer.count
        while i < end {
            guard buffer[i] == .lf else { i += 1; continue }
            if i + 1 < end, buffer[i + 1] == .lf { return i + 2 }
            if i + 2 < end, buffer[i + 1] == .cr, buffer[i + 2] == .lf { return i + 3 }
            i += 1
        }
        return nil
    }

    /// Reads Content-Length (or its compact form `l`) from a head; absent means 0.
    static func contentLength(inHead head: [UInt8]) -> Result<Int, SyntaxError> {
        var found: Int?
        var lineStart = 0
        for i in 0...head.count {
            guard i == head.count || head[i] == .lf else { continue }
            defer { lineStart = i + 1 }
            let line = head[lineStart..<i]
            guard let colon = line.firstIndex(of: .colon) else { continue }
            var nameEnd = colon
            while nameEnd > lineStart, CharacterClass.isWhitespace(head[nameEnd - 1]) { nameEnd -= 1 }
            let name = head[lineStart..<nameEnd]
            let isLength = name.count == 1 ? CharacterClass.lowercase(name.first!) == 0x6C
                : name.count == 14 && name.map(CharacterClass.lowercase).elementsEqual("content-length".utf8)
            guard isLength else { continue }
            let valueText = String(decoding: head[(colon + 1)..<i], as: UTF8.self)
            guard let value = parseDecimal(valueText.trimmingWhitespace(), limit: NumericLimits.maxContentLength) else {
                return .failure(SyntaxError("Content-Length is not a non-negative number"))
            }
            if let found, found != Int(value) {
                return .failure(SyntaxError("conflicting Content-Length headers"))
            }
            found = Int(value)
        }
        return .success(found ?? 0)
    }
}
