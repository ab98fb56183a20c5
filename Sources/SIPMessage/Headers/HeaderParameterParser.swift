// Reads `*( SEMI generic-param )` and comma-separated lists out of header values (RFC 3261 §25.1).

extension ByteScanner {
    /// Reads `;name[=value]` parameters until something else comes; each name must be a token and
    /// each value a token, host or quoted string.
    mutating func readHeaderParameters(into parameters: inout Parameters) throws(SyntaxError) {
        while consumeAfterWhitespace(.semicolon) {
            skipWhitespace()
            guard let nameRange = readToken() else {
                throw SyntaxError("empty or invalid parameter after ';'")
            }
            var raw: String?
            if consumeAfterWhitespace(.equals) {
                skipWhitespace()
                if peek() == .quote {
                    raw = text(try skipQuotedString())
                } else if let valueRange = read(while: genValueTable) {
                    raw = text(valueRange)
                } else {
                    throw SyntaxError("parameter '\(string(nameRange))' has '=' but no value")
                }
            }
            if building { parameters.append(name: string(nameRange), raw: raw) }
        }
    }

    /// After an element of a comma-separated list: true if a comma follows (another element),
    /// false at the end; throws on anything else.
    mutating func readListSeparator(what: String) throws(SyntaxError) -> Bool {
        skipWhitespace()
        if isAtEnd { return false }
        guard consume(.comma) else {
            throw SyntaxError("unexpected '\(URIParser.printable(peek()!))' in \(what)")
        }
        skipWhitespace()
        guard !isAtEnd else { throw SyntaxError("\(what) ends with an empty element after ','") }
        return true
    }
}

/// gen-value = token / host / quoted-string; host adds ":" "[" "]" for IPv6.
let genValueTable: [Bool] = (0...255).map {
    let b = UInt8($0)
    return CharacterClass.token[Int(b)] || b == .colon || b == .openBracket || b == .closeBracket
}
