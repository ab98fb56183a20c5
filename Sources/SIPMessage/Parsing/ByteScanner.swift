// A cursor over UTF-8 bytes with the small reads the RFC 3261 grammar is built from.

/// Why a header value or URI did not parse; the parser adds which header it was.
public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

struct ByteScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index: Int
    let end: Int
    /// False when only checking syntax: values are not materialised as strings (`text` gives "").
    var building: Bool

    init(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int = 0, to end: Int? = nil, building: Bool = true) {
        self.bytes = bytes
        self.index = start
        self.end = end ?? bytes.count
        self.building = building
    }

    var isAtEnd: Bool { index >= end }

    func peek() -> UInt8? { index < end ? bytes[index] : nil }

    func peek(offset: Int) -> UInt8? { index + offset < end ? bytes[index + offset] : nil }

    /// Skips SP, HTAB and any CR/LF left by folding (values are unfolded, but be liberal).
    mutating func skipWhitespace() {
        while index < end {
            let b = bytes[index]
            guard b == .space || b == .tab || b == .cr || b == .lf else { return }
            index += 1
        }
    }

    @discardableResult
    mutating func consume(_ byte: UInt8) -> Bool {
        if index < end, bytes[index] == byte { index += 1; return true }
        return false
    }

    /// Skips whitespace, then consumes `byte` if it is next (SWS byte SWS is up to the caller).
    mutating func consumeAfterWhitespace(_ byte: UInt8) -> Bool {
        let saved = index
        skipWhitespace()
        if consume(byte) { return true }
        index = saved
        return false
    }

    /// Reads one or more bytes of a class; nil if none.
    mutating func read(while table: [Bool]) -> Range<Int>? {
        let start = index
        while index < end, table[Int(bytes[index])] { index += 1 }
        return index > start ? start..<index : nil
    }

    mutating func readToken() -> Range<Int>? { read(while: CharacterClass.token) }

    /// Reads a quoted-string (RFC 3261 §25) starting at DQUOTE; returns its unescaped content.
    mutating func readQuotedString() throws(SyntaxError) -> String {
        guard consume(.quote) else { throw SyntaxError("expected a quoted string") }
        var content: [UInt8] = []
        while index < end {
            let b = bytes[index]
            index += 1
            switch b {
            case .quote:
                return building ? String(decoding: content, as: UTF8.self) : ""
            case .backslash:
                guard index < end else { throw SyntaxError("unterminated quoted string") }
                let escaped = bytes[index]
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                guard escaped <= 0x7F, escaped != .cr, escaped != .lf else {
                    throw SyntaxError("invalid quoted-pair in quoted string")
                }
                if building { content.append(escaped) }
                index += 1
            case .cr, .lf:
                throw SyntaxError("line break inside a quoted string")
            default:
                if building { content.append(b) }
            }
        }
        throw SyntaxError("unterminated quoted string (no closing double quote)")
    }

    /// Returns the range of a quoted-string including its quotes, checking it is well formed.
    mutating func skipQuotedString() throws(SyntaxError) -> Range<Int> {
        let start = index
        _ = try readQuotedString()
        return start..<index
    }

    /// A parsed value: the bytes as a string when building, "" when only checking syntax.
    func text(_ range: Range<Int>) -> String { building ? string(range) : "" }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    func lowercasedString(_ range: Range<Int>) -> String {
        String(unsafeUninitializedCapacity: range.count) { out in
            for (i, b) in bytes[range].enumerated() { out[i] = CharacterClass.lowercase(b) }
            return range.count
        }
    }

    /// Parses a run of ASCII digits as an unsigned value no larger than `limit`.
    func decimal(_ range: Range<Int>, limit: UInt64) -> UInt64? {
        guard !range.isEmpty else { return nil }
        var value: UInt64 = 0
        for i in range {
            let b = bytes[i]
            guard CharacterClass.isDigit(b) else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(b - 0x30))
            if o1 || o2 || s > limit { return nil }
            value = s
        }
        return value
    }
}

extension String {
    /// Runs `body` over the string's UTF-8 bytes without copying when they are contiguous.
    func withUTF8Bytes<R, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        var copy = self
        let result: Result<R, E> = copy.withUTF8 { buffer in
            do throws(E) { return .success(try body(buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

/// Parses decimal digits in a string (optionally surrounded by whitespace) up to `limit`.
func parseDecimal(_ text: String, limit: UInt64) -> UInt64? {
    text.withUTF8Bytes { buffer in
        var scanner = ByteScanner(buffer)
        scanner.skipWhitespace()
        guard let digits = scanner.read(while: digitTable) else { return nil }
        scanner.skipWhitespace()
        guard scanner.isAtEnd else { return nil }
        return scanner.decimal(digits, limit: limit)
    }
}

let digitTable: [Bool] = (0...255).map { CharacterClass.isDigit(UInt8($0)) }
