// Byte classes from the RFC 3261 §25 grammar, as lookup tables.

@usableFromInline
enum CharacterClass {
    /// token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
    @usableFromInline static let token: [Bool] = table { b in
        isAlphanumeric(b) || "-.!%*_+`'~".utf8.contains(b)
    }

    /// word: token characters plus "(" ")" "<" ">" ":" "\" DQUOTE "/" "[" "]" "?" "{" "}"
    @usableFromInline static let word: [Bool] = table { b in
        token[Int(b)] || "()<>:\\\"/[]?{}".utf8.contains(b)
    }

    /// unreserved: alphanum / mark, mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
    @usableFromInline static let unreserved: [Bool] = table { b in
        isAlphanumeric(b) || "-_.!~*'()".utf8.contains(b)
    }

    /// Characters of a SIP URI user part besides escapes: unreserved / user-unreserved.
    @usableFromInline static let user: [Bool] = table { b in
        unreserved[Int(b)] || "&=+$,;?/".utf8.contains(b)
    }

    /// Characters of a SIP URI password besides escapes.
    @usableFromInline static let password: [Bool] = table { b in
        unreserved[Int(b)] || "&=+$,".utf8.contains(b)
    }

    /// paramchar besides escapes: param-unreserved / unreserved.
    @usableFromInline static let uriParam: [Bool] = table { b in
        unreserved[Int(b)] || "[]/:&+$".utf8.contains(b)
    }

    /// hname / hvalue characters besides escapes: hnv-unreserved / unreserved.
    @usableFromInline static let uriHeader: [Bool] = table { b in
        unreserved[Int(b)] || "[]/?:+$".utf8.contains(b)
    }

    /// Host name characters (hostname, IPv4address and the inside of an IPv6reference).
    @usableFromInline static let host: [Bool] = table { b in
        isAlphanumeric(b) || "-.:[]_".utf8.contains(b)
    }

    /// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    @usableFromInline static let scheme: [Bool] = table { b in
        isAlphanumeric(b) || "+-.".utf8.contains(b)
    }

    /// Characters allowed in an opaque absoluteURI (uric plus the hier-part separators).
    @usableFromInline static let uric: [Bool] = table { b in
        unreserved[Int(b)] || ";/?:@&=+$,%".utf8.contains(b)
    }

    @inlinable static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    @inlinable static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    @inlinable static func isHex(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }

    @inlinable static func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    @inlinable static func lowercase(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    private static func table(_ predicate: (UInt8) -> Bool) -> [Bool] {
        (0...255).map { predicate(UInt8($0)) }
    }
}

extension UInt8 {
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C
    static let equals: UInt8 = 0x3D
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let lessThan: UInt8 = 0x3C
    static let greaterThan: UInt8 = 0x3E
    static let slash: UInt8 = 0x2F
    static let at: UInt8 = 0x40
    static let question: UInt8 = 0x3F
    static let percent: UInt8 = 0x25
    static let ampersand: UInt8 = 0x26
    static let openBracket: UInt8 = 0x5B
    static let closeBracket: UInt8 = 0x5D
}
