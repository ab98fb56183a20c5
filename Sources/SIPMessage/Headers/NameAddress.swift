// name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route, Refer-To,
// P-Asserted-Identity (RFC 3261 §20.10, §20.20, §20.39, §25.1).

public struct NameAddress: Sendable, Hashable, CustomStringConvertible {
    /// The display name, unquoted and unescaped.
    public var displayName: String?
    public var uri: URI
    /// Header parameters (after the URI), such as tag, expires, q, +sip.instance.
    public var parameters: Parameters

    public init(displayName: String? = nil, uri: URI, parameters: Parameters = Parameters()) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    public init(displayName: String? = nil, uri: SIPURI, parameters: Parameters = Parameters()) {
        self.init(displayName: displayName, uri: .sip(uri), parameters: parameters)
    }

    /// The `tag` parameter of From and To (§19.3).
    public var tag: String? {
        get { parameters["tag"] }
        set { parameters["tag"] = newValue }
    }

    /// Always written in name-addr form (`<...>`), which is unambiguous whatever the URI holds.
    public var description: String {
        var out = ""
        if let displayName, !displayName.isEmpty { out += Parameters.quote(displayName) + " " }
        out += "<" + uri.description + ">"
        out += parameters.serialized
        return out
    }

    /// Parses a single value (From, To, Refer-To). `lenient` accepts any text before `<` as the
    /// display name, as real devices send `From: Bell, Alexander <sip:...>`.
    public init(_ value: String, lenient: Bool = true) throws(SyntaxError) {
        self = try value.withUTF8Bytes { (buffer) throws(SyntaxError) -> NameAddress in
            var scanner = ByteScanner(buffer)
            let result = try NameAddress.parse(&scanner, lenientDisplayName: lenient)
            scanner.skipWhitespace()
            guard scanner.isAtEnd else {
                throw SyntaxError("unexpected '\(URIParser.printable(scanner.peek()!))' after the address")
            }
            return result
        }
    }

    /// Checks the syntax of a single value without building it (the parser's fast path).
    static func validate(_ value: String) throws(SyntaxError) {
        try value.withUTF8Bytes { (buffer) throws(SyntaxError) in
            var scanner = ByteScanner(buffer, building: false)
            _ = try NameAddress.parse(&scanner, lenientDisplayName: true)
            scanner.skipWhitespace()
            guard scanner.isAtEnd else {
                throw SyntaxError("unexpected '\(URIParser.printable(scanner.peek()!))' after the address")
            }
        }
    }

    /// Checks the syntax of a comma-separated list without building it.
    static func validateList(_ value: String) throws(SyntaxError) {
        _ = try parseList(value, building: false)
    }

    /// Parses a comma-separated list (Contact, Route, Record-Route, Path, P-Asserted-Identity).
    public static func parseList(_ value: String) throws(SyntaxError) -> [NameAddress] {
        try parseList(value, building: true)
    }

    static func parseList(_ value: String, building: Bool) throws(SyntaxError) -> [NameAddress] {
        try value.withUTF8Bytes { (buffer) throws(SyntaxError) -> [NameAddress] in
            var scanner = ByteScanner(buffer, building: building)
            var result: [NameAddress] = []
            scanner.skipWhitespace()
            guard !scanner.isAtEnd else { throw SyntaxError("empty address list") }
            repeat {
                let address = try parse(&scanner, lenientDisplayName: false)
                if building { result.append(address) }
            } while try scanner.readListSeparator(what: "address list")
            return result
        }
    }

    static func parse(_ scanner: inout ByteScanner, lenientDisplayName: Bool) throws(SyntaxError) -> NameAddress {
        scanner.skipWhitespace()
        let start = scanner.index
        var displayName: String?
        var nameAddrForm = false
        if scanner.peek() == .quote {
            displayName = try scanner.readQuotedString()
            guard scanner.consumeAfterWhitespace(.lessThan) else {
                throw SyntaxError("a quoted display name must be followed by <URI>")
            }
            nameAddrForm = true
        } else if let angle = findAngle(scanner, lenient: lenientDisplayName) {
            let text = scanner.building ? scanner.string(start..<angle).trimmingWhitespace() : ""
            displayName = text.isEmpty ? nil : text
            scanner.index = angle + 1
            nameAddrForm = true
        }
        var parameters = Parameters()
        let uri: URI
        if nameAddrForm {
            scanner.skipWhitespace()  // liberal: "< sip:a@b >" (RFC 4475 §3.1.2.14)
            let uriStart = scanner.index
            while let b = scanner.peek(), b != .greaterThan {
                if b == .lessThan || b == .quote { throw SyntaxError("unexpected '\(UnicodeScalar(b))' inside <...>") }
                scanner.index += 1
            }
            guard scanner.peek() == .greaterThan else { throw SyntaxError("'<' without a closing '>'") }
            var uriEnd = scanner.index
            while uriEnd > uriStart, CharacterClass.isWhitespace(scanner.bytes[uriEnd - 1]) { uriEnd -= 1 }
            uri = try URIParser.parse(scanner.bytes, uriStart..<uriEnd, allowHeaders: true, building: scanner.building)
            scanner.index += 1
        } else {
            // addr-spec: the URI ends at ";" "," or whitespace, so it cannot hold those or "?" (§20).
            let uriStart = scanner.index
            while let b = scanner.peek(), b != .semicolon, b != .comma, !CharacterClass.isWhitespace(b) {
                if b == .question { throw SyntaxError("a URI with headers ('?') must be enclosed in <>") }
                if b == .lessThan || b == .greaterThan || b == .quote { throw SyntaxError("unbalanced '<', '>' or '\"' in address") }
                scanner.index += 1
            }
            guard scanner.index > uriStart else { throw SyntaxError("missing URI in address") }
            uri = try URIParser.parse(scanner.bytes, uriStart..<scanner.index, allowHeaders: false, building: scanner.building)
        }
        try scanner.readHeaderParameters(into: &parameters)
        return NameAddress(displayName: displayName, uri: uri, parameters: parameters)
    }

    /// Finds the `<` that opens a name-addr after a token display name; nil for addr-spec form.
    private static func findAngle(_ scanner: ByteScanner, lenient: Bool) -> Int? {
        var i = scanner.index
        while i < scanner.end {
            let b = scanner.bytes[i]
            if b == .lessThan { return i }
            if b == .quote { return nil }
            if !lenient, !(CharacterClass.token[Int(b)] || CharacterClass.isWhitespace(b)) { return nil }
            if lenient, b == .colon, !hasAngleAhead(scanner, from: i) { return nil }
            i += 1
        }
        return nil
    }

    private static func hasAngleAhead(_ scanner: ByteScanner, from: Int) -> Bool {
        scanner.bytes[from..<scanner.end].contains(.lessThan)
    }
}

/// The Contact header value: `*` or a list of addresses (§20.10).
public enum ContactValue: Sendable, Hashable {
    case wildcard
    case addresses([NameAddress])

    public init(_ value: String) throws(SyntaxError) {
        if value.trimmingWhitespace() == "*" { self = .wildcard; return }
        self = .addresses(try NameAddress.parseList(value))
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let bytes = Array(utf8)
        var start = 0
        var end = bytes.count
        while start < end, CharacterClass.isWhitespace(bytes[start]) || bytes[start] == .cr || bytes[start] == .lf { start += 1 }
        while end > start, CharacterClass.isWhitespace(bytes[end - 1]) || bytes[end - 1] == .cr || bytes[end - 1] == .lf { end -= 1 }
        if start == 0 && end == bytes.count { return self }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
