// Syntax and count checks on the headers every SIP element relies on (RFC 3261 §8.1.1, §20).

enum HeaderChecks {
    /// Checks every header it knows; returns the parsed CSeq (mandatory, so always present).
    @discardableResult
    static func check(_ headers: SIPHeaders, isRequest: Bool) throws(SyntaxError) -> CSeq {
        var to = 0, from = 0, callID = 0, via = 0, maxForwards = 0, contentType = 0, contentLength = 0, expires = 0
        var cseqCount = 0
        var cseq: CSeq?
        for field in headers {
            let value = field.value
            do throws(SyntaxError) {
                switch field.headerName.key {
                case "via":
                    via += 1
                    try Via.validateList(value)
                case "to":
                    to += 1
                    try NameAddress.validate(value)
                case "from":
                    from += 1
                    try NameAddress.validate(value)
                case "call-id":
                    callID += 1
                    try checkCallID(value)
                case "cseq":
                    cseqCount += 1
                    cseq = try CSeq(value)
                case "contact":
                    if value != "*" { try NameAddress.validateList(value) }
                case "max-forwards":
                    maxForwards += 1
                    guard parseDecimal(value, limit: NumericLimits.maxMaxForwards) != nil else {
                        throw SyntaxError("must be a number from 0 to 255")
                    }
                case "content-length":
                    contentLength += 1
                case "content-type":
                    contentType += 1
                    _ = try MediaType(value)
                case "route", "record-route", "path":
                    try NameAddress.validateList(value)
                case "expires", "min-expires":
                    if field.headerName.key == "expires" { expires += 1 }
                    guard parseDecimal(value, limit: NumericLimits.maxExpires) != nil else {
                        throw SyntaxError("must be a number below 2^32")
                    }
                case "require", "proxy-require", "supported", "unsupported":
                    _ = try TokenList.parse(value)
                default:
                    break
                }
            } catch {
                throw SyntaxError("invalid \(field.headerName) header: \(error.reason)")
            }
        }
        // §7.3.1: only comma-list headers may repeat.
        if to > 1 { throw duplicate(.to) }
        if from > 1 { throw duplicate(.from) }
        if callID > 1 { throw duplicate(.callID) }
        if cseqCount > 1 { throw duplicate(.cseq) }
        if maxForwards > 1 { throw duplicate(.maxForwards) }
        if contentType > 1 { throw duplicate(.contentType) }
        if contentLength > 1 { throw duplicate(.contentLength) }
        if expires > 1 { throw duplicate(.expires) }
        // §8.1.1: To, From, CSeq, Call-ID and Via are mandatory (Max-Forwards too, but RFC 2543
        // devices omit it, so its absence is tolerated).
        if to == 0 { throw missing(.to) }
        if from == 0 { throw missing(.from) }
        if callID == 0 { throw missing(.callID) }
        if via == 0 { throw missing(.via) }
        guard let cseq else { throw missing(.cseq) }
        return cseq
    }

    private static func duplicate(_ name: HeaderName) -> SyntaxError { SyntaxError("more than one \(name) header") }
    private static func missing(_ name: HeaderName) -> SyntaxError { SyntaxError("missing \(name) header") }

    /// callid = word [ "@" word ]
    private static func checkCallID(_ value: String) throws(SyntaxError) {
        guard !value.isEmpty else { throw SyntaxError("empty value") }
        var ats = 0
        for b in value.utf8 {
            if b == .at { ats += 1; continue }
            guard CharacterClass.word[Int(b)] else {
                throw SyntaxError("character '\(URIParser.printable(b))' is not allowed in a Call-ID")
            }
        }
        guard ats <= 1 else { throw SyntaxError("a Call-ID holds at most one '@'") }
    }
}
