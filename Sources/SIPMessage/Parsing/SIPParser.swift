// Parses one SIP message from bytes (RFC 3261 §7, §18.3, §25) and checks the headers every
// element relies on, so a message that parses can be routed and matched to a transaction.

public struct SIPParserLimits: Sendable, Hashable {
    public var maxMessageSize: Int
    public var maxHeaderCount: Int
    public var maxLineLength: Int

    public init(maxMessageSize: Int = 65_536, maxHeaderCount: Int = 256, maxLineLength: Int = 16_384) {
        self.maxMessageSize = maxMessageSize
        self.maxHeaderCount = maxHeaderCount
        self.maxLineLength = maxLineLength
    }
}

/// How the message arrived: a datagram carries exactly one message (the body is the rest of the
/// datagram when Content-Length is absent, and octets past Content-Length are discarded, §18.3);
/// a stream message has been cut out by `StreamFramer` using Content-Length.
public enum SIPFraming: Sendable {
    case datagram
    case stream
}

/// What the parser could read of a message it rejected: enough to answer a request with an error.
public struct PartialMessage: Sendable, Hashable {
    public var isRequest: Bool
    public var method: SIPMethod?
    public var headers: SIPHeaders
}

public struct SIPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, in words fit for a reason phrase or a log.
    public var reason: String
    /// The status a request with this problem should get: 400, 505 (version), 513 (size).
    public var statusCode: Int
    /// The start line and headers, when the parser got that far.
    public var partial: PartialMessage?

    public init(_ reason: String, statusCode: Int = 400, partial: PartialMessage? = nil) {
        self.reason = reason
        self.statusCode = statusCode
        self.partial = partial
    }

    public var description: String { reason }
}

public struct SIPParser: Sendable {
    public var limits: SIPParserLimits

    public init(limits: SIPParserLimits = SIPParserLimits()) {
        self.limits = limits
    }

    public func parse(_ bytes: [UInt8], framing: SIPFraming = .datagram) throws(SIPParseError) -> SIPMessage {
        try bytes.withUnsafeBufferPointer { (buffer) throws(SIPParseError) -> SIPMessage in
            try parse(buffer: buffer, framing: framing)
        }
    }

    public func parse(_ text: String, framing: SIPFraming = .datagram) throws(SIPParseError) -> SIPMessage {
        try parse(Array(text.utf8), framing: framing)
    }

    public func parse(buffer: UnsafeBufferPointer<UInt8>, framing: SIPFraming = .datagram) throws(SIPParseError) -> SIPMessage {
        guard buffer.count <= limits.maxMessageSize else {
            throw SIPParseError("message of \(buffer.count) bytes exceeds the \(limits.maxMessageSize)-byte limit", statusCode: 513)
        }
        var reader = LineReader(bytes: buffer, limits: limits)
        reader.skipLeadingLineBreaks()
        guard let startLine = try reader.nextLine() else { throw SIPParseError("empty message") }
        let startResult = Result { () throws(SIPParseError) -> StartLine in try StartLine.parse(buffer, startLine) }
        // Headers are read even after a bad start line, so a request can still be answered.
        let (headers, headerProblem) = try reader.readHeaders()
        let looksLikeRequest = !buffer[startLine.range].starts(with: "SIP/".utf8)
        let partial = PartialMessage(
            isRequest: (try? startResult.get())?.isRequest ?? looksLikeRequest,
            method: (try? startResult.get())?.method ?? StartLine.firstToken(buffer, startLine.range).map { SIPMethod($0) },
            headers: headers
        )
        func fail(_ reason: String, _ status: Int = 400) -> SIPParseError {
            SIPParseError(reason, statusCode: status, partial: partial)
        }
        let start: StartLine
        switch startResult {
        case .success(let line): start = line
        case .failure(let error): throw fail(error.reason, error.statusCode)
        }
        if let versionProblem = start.versionProblem { throw fail(versionProblem, 505) }
        if let headerProblem { throw fail(headerProblem) }

        // Body, framed by Content-Length (§18.3, §20.14).
        let lengthFields = headers.values(.contentLength)
        guard lengthFields.count <= 1 else { throw fail("more than one Content-Length header") }
        let available = buffer.count - reader.position
        var bodyLength = available
        if let lengthText = lengthFields.first {
            guard let declared = parseDecimal(lengthText, limit: NumericLimits.maxContentLength) else {
                throw fail("Content-Length '\(lengthText)' is not a non-negative number")
            }
            guard Int(declared) <= available else {
                throw fail("Content-Length \(declared) exceeds the \(available) body bytes received")
            }
            if framing == .stream, Int(declared) < available {
                throw fail("\(available - Int(declared)) bytes follow the body that Content-Length does not cover")
            }
            bodyLength = Int(declared)
        } else if framing == .stream, available > 0 {
            throw fail("a message on a stream transport needs Content-Length")
        }
        let body = Array(buffer[reader.position..<(reader.position + bodyLength)])

        let cseq: CSeq
        do throws(SyntaxError) {
            cseq = try HeaderChecks.check(headers, isRequest: start.isRequest)
        } catch {
            throw fail(error.reason)
        }

        if start.isRequest {
            let method = start.method!
            if cseq.method != method {
                throw fail("CSeq method \(cseq.method) does not match the request method \(method)")
            }
            let uri: URI
            do {
                uri = try URIParser.parse(buffer, start.uriRange, allowHeaders: false)
            } catch {
                throw fail("invalid Request-URI: \(error.reason)")
            }
            return .request(SIPRequest(method: method, uri: uri, version: start.version, headers: headers, body: body))
        }
        return .response(SIPResponse(
            statusCode: start.statusCode, reasonPhrase: start.reasonPhrase, version: start.version,
            headers: headers, body: body
        ))
    }
}

/// The request line or status line.
struct StartLine {
    var isRequest: Bool
    var method: SIPMethod?
    var uriRange: Range<Int> = 0..<0
    var version: String
    var statusCode: Int = 0
    var reasonPhrase: String = ""
    var versionProblem: String?

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ line: LineReader.Line) throws(SIPParseError) -> StartLine {
        let range = line.range
        guard !line.isFolded else { throw SIPParseError("the start line must not begin with whitespace") }
        let scanner = ByteScanner(bytes, from: range.lowerBound, to: range.upperBound)
        if range.count >= 4, bytes[range.lowerBound..<(range.lowerBound + 4)].elementsEqual("SIP/".utf8) {
            return try parseStatusLine(scanner, range)
        }
        // Request-Line = Method SP Request-URI SP SIP-Version; extra spaces accepted (RFC 4475 §3.1.2.9–10),
        // but only spaces: a tab is no SP (§25.1), and a parser more liberal than its neighbours
        // invites tricks that pass one and fool the next.
        if bytes[range].contains(0x09) {
            throw SIPParseError("the request line's elements must be separated by spaces (SP), not tabs")
        }
        var parts: [Range<Int>] = []
        var i = range.lowerBound
        while i < range.upperBound {
            while i < range.upperBound, CharacterClass.isWhitespace(bytes[i]) { i += 1 }
            let start = i
            while i < range.upperBound, !CharacterClass.isWhitespace(bytes[i]) { i += 1 }
            if i > start { parts.append(start..<i) }
        }
        guard parts.count == 3 else {
            throw SIPParseError(parts.count > 3
                ? "request line has whitespace inside the Request-URI"
                : "malformed start line (expected METHOD URI SIP/2.0)")
        }
        for b in bytes[parts[0]] where !CharacterClass.token[Int(b)] {
            throw SIPParseError("request method contains '\(URIParser.printable(b))', which is not a token character")
        }
        let version = scanner.string(parts[2])
        var line = StartLine(isRequest: true, method: SIPMethod(scanner.string(parts[0])), version: version)
        line.uriRange = parts[1]
        line.versionProblem = try versionProblem(version)
        return line
    }

    private static func parseStatusLine(_ scanner: ByteScanner, _ range: Range<Int>) throws(SIPParseError) -> StartLine {
        let bytes = scanner.bytes
        var i = range.lowerBound
        while i < range.upperBound, bytes[i] != .space { i += 1 }
        let version = scanner.string(range.lowerBound..<i)
        guard try versionProblem(version) == nil else {
            throw SIPParseError("response has unsupported version \(version)", statusCode: 505)
        }
        guard i < range.upperBound else { throw SIPParseError("status line has no status code") }
        i += 1
        let codeStart = i
        while i < range.upperBound, CharacterClass.isDigit(bytes[i]) { i += 1 }
        guard i - codeStart == 3, let code = scanner.decimal(codeStart..<i, limit: 999), (100...699).contains(code) else {
            throw SIPParseError("status code must be three digits from 100 to 699")
        }
        var reason = ""
        if i < range.upperBound {
            guard bytes[i] == .space else { throw SIPParseError("status code must be followed by a space") }
            reason = scanner.string((i + 1)..<range.upperBound).trimmingWhitespace()
        }
        var line = StartLine(isRequest: false, version: version)
        line.statusCode = Int(code)
        line.reasonPhrase = reason
        return line
    }

    static func firstToken(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String? {
        var scanner = ByteScanner(bytes, from: range.lowerBound, to: range.upperBound)
        return scanner.readToken().map { scanner.string($0) }
    }

    /// nil for SIP/2.0; a message for another SIP version (answered 505); throws for garbage.
    private static func versionProblem(_ version: String) throws(SIPParseError) -> String? {
        let upper = version.uppercased()
        if upper == "SIP/2.0" { return nil }
        let parts = upper.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, parts[0] == "SIP" {
            let numbers = parts[1].split(separator: ".", omittingEmptySubsequences: false)
            if numbers.count == 2, numbers.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
                return "SIP version \(version) is not supported (only SIP/2.0)"
            }
        }
        throw SIPParseError("malformed SIP version '\(version)'")
    }
}
