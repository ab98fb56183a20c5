// Parses URIs from bytes: SIP-URI / SIPS-URI (RFC 3261 §25.1), tel (RFC 3966), and opaque absoluteURI.

enum URIParser {
    static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, allowHeaders: Bool, building: Bool = true
    ) throws(SyntaxError) -> URI {
        var scanner = ByteScanner(bytes, from: range.lowerBound, to: range.upperBound, building: building)
        guard let schemeRange = scanner.read(while: CharacterClass.scheme),
              CharacterClass.isAlphanumeric(bytes[schemeRange.lowerBound]),
              !CharacterClass.isDigit(bytes[schemeRange.lowerBound]),
              scanner.consume(.colon)
        else {
            throw SyntaxError("URI has no scheme: \(ByteScanner(bytes).string(range))")
        }
        let scheme = scanner.lowercasedString(schemeRange)
        let rest = scanner.index..<range.upperBound
        switch scheme {
        case "sip", "sips":
            return .sip(try parseSIP(bytes, rest, secure: scheme == "sips", allowHeaders: allowHeaders, building: building))
        case "tel":
            return .tel(try parseTel(bytes, rest, building: building))
        default:
            guard !rest.isEmpty else { throw SyntaxError("URI '\(scheme):' has nothing after the scheme") }
            for i in rest where bytes[i] <= 0x20 || bytes[i] >= 0x7F || bytes[i] == .lessThan || bytes[i] == .greaterThan || bytes[i] == .quote {
                throw SyntaxError("URI contains an invalid character (0x\(String(bytes[i], radix: 16)))")
            }
            return .other(scheme: scanner.text(schemeRange), opaque: scanner.text(rest))
        }
    }

    static func parseSIP(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, secure: Bool, allowHeaders: Bool, building: Bool = true
    ) throws(SyntaxError) -> SIPURI {
        let text = ByteScanner(bytes, from: range.lowerBound, to: range.upperBound, building: building)
        var hostStart = range.lowerBound
        var user: String?
        var password: String?
        // userinfo ends at the first "@": neither user, password, host nor parameters may hold one unescaped.
        if let at = bytes[range].firstIndex(of: .at) {
            var colon: Int?
            for i in range.lowerBound..<at {
                let b = bytes[i]
                if b == .colon, colon == nil { colon = i; continue }
                if b == .percent { try checkEscape(bytes, at: i, end: at); continue }
                let allowed = colon == nil ? CharacterClass.user[Int(b)] : CharacterClass.password[Int(b)]
                guard allowed else { throw SyntaxError("invalid character '\(printable(b))' in the user part of a SIP URI") }
            }
            let userEnd = colon ?? at
            guard userEnd > range.lowerBound else { throw SyntaxError("SIP URI has an empty user part before '@'") }
            user = text.text(range.lowerBound..<userEnd)
            if let colon { password = text.text((colon + 1)..<at) }
            hostStart = at + 1
        }
        var scanner = ByteScanner(bytes, from: hostStart, to: range.upperBound, building: building)
        let host: String
        if scanner.peek() == .openBracket {
            let start = scanner.index
            scanner.index += 1
            while let b = scanner.peek(), b != .closeBracket {
                guard CharacterClass.isHex(b) || b == .colon || b == 0x2E else {
                    throw SyntaxError("invalid character in IPv6 reference of a SIP URI")
                }
                scanner.index += 1
            }
            guard scanner.consume(.closeBracket) else { throw SyntaxError("unterminated IPv6 reference in a SIP URI") }
            host = scanner.text(start..<scanner.index)
        } else {
            guard let hostRange = scanner.read(while: hostnameTable) else {
                throw SyntaxError("SIP URI has no host")
            }
            host = scanner.text(hostRange)
        }
        var port: Int?
        if scanner.consume(.colon) {
            guard let digits = scanner.read(while: digitTable), let value = scanner.decimal(digits, limit: 65535) else {
                throw SyntaxError("SIP URI port is not a number from 0 to 65535")
            }
            port = Int(value)
        }
        var parameters = Parameters()
        while scanner.consume(.semicolon) {
            let name = try readEscaped(&scanner, CharacterClass.uriParam, what: "URI parameter name")
            guard !name.isEmpty else { throw SyntaxError("empty URI parameter in a SIP URI") }
            var value: Range<Int>?
            if scanner.consume(.equals) {
                let v = try readEscaped(&scanner, CharacterClass.uriParam, what: "URI parameter value")
                guard !v.isEmpty else { throw SyntaxError("URI parameter '\(scanner.string(name))' has '=' but no value") }
                value = v
            }
            if building { parameters.append(name: scanner.string(name), raw: value.map { scanner.string($0) }) }
        }
        var headerPairs: [SIPURI.HeaderPair] = []
        if scanner.consume(.question) {
            guard allowHeaders else { throw SyntaxError("a Request-URI must not contain URI headers ('?...')") }
            repeat {
                let name = try readEscaped(&scanner, CharacterClass.uriHeader, what: "URI header name")
                guard !name.isEmpty, scanner.consume(.equals) else { throw SyntaxError("malformed URI header (expected name=value)") }
                let value = try readEscaped(&scanner, CharacterClass.uriHeader, what: "URI header value")
                if building { headerPairs.append(.init(name: scanner.string(name), value: scanner.string(value))) }
            } while scanner.consume(.ampersand)
        }
        guard scanner.isAtEnd else {
            throw SyntaxError("unexpected '\(printable(scanner.peek()!))' in SIP URI \(text.string(range))")
        }
        var uri = SIPURI(secure: secure, user: user, password: password, host: host, port: port, parameters: parameters)
        uri.headerPairs = headerPairs
        return uri
    }

    static func parseTel(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, building: Bool = true) throws(SyntaxError) -> TelURI {
        var scanner = ByteScanner(bytes, from: range.lowerBound, to: range.upperBound, building: building)
        guard let numberRange = scanner.read(while: telNumberTable) else { throw SyntaxError("tel URI has no number") }
        var parameters = Parameters()
        while scanner.consume(.semicolon) {
            let name = try readEscaped(&scanner, CharacterClass.uriParam, what: "tel URI parameter name")
            guard !name.isEmpty else { throw SyntaxError("empty tel URI parameter") }
            var value: Range<Int>?
            if scanner.consume(.equals) { value = try readEscaped(&scanner, CharacterClass.uriParam, what: "tel URI parameter value") }
            if building { parameters.append(name: scanner.string(name), raw: value.map { scanner.string($0) }) }
        }
        guard scanner.isAtEnd else { throw SyntaxError("unexpected character in tel URI") }
        return TelURI(number: scanner.text(numberRange), parameters: parameters)
    }

    /// Reads bytes of `table` or %XX escapes; returns the range read (possibly empty).
    private static func readEscaped(
        _ scanner: inout ByteScanner, _ table: [Bool], what: String
    ) throws(SyntaxError) -> Range<Int> {
        let start = scanner.index
        while let b = scanner.peek() {
            if b == .percent {
                try checkEscape(scanner.bytes, at: scanner.index, end: scanner.end)
                scanner.index += 3
            } else if table[Int(b)] {
                scanner.index += 1
            } else {
                break
            }
        }
        return start..<scanner.index
    }

    private static func checkEscape(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) throws(SyntaxError) {
        guard i + 2 < end,
              CharacterClass.isHex(bytes[i + 1]), CharacterClass.isHex(bytes[i + 2])
        else { throw SyntaxError("'%' in a URI is not followed by two hex digits") }
    }

    static func printable(_ b: UInt8) -> String {
        (0x21...0x7E).contains(b) ? String(UnicodeScalar(b)) : "0x" + String(b, radix: 16)
    }

    /// Decodes %XX escapes; invalid escapes are left as written.
    static func unescape(_ text: String) -> String {
        guard text.utf8.contains(.percent) else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == .percent, i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    private static let hostnameTable: [Bool] = (0...255).map {
        let b = UInt8($0)
        return CharacterClass.isAlphanumeric(b) || b == 0x2D || b == 0x2E || b == 0x5F
    }

    private static let telNumberTable: [Bool] = (0...255).map {
        let b = UInt8($0)
        return CharacterClass.isHex(b) || "+-.()*#".utf8.contains(b)
    }
}
