// Syntax and count checks on the headers every SIP element relies on (RFC 3261 §8.1.1, §20).

enum HeaderChecks {
    /// Headers that may appear at most once (§7.3.1: only comma-list headers may repeat).
    static let singleValued: [HeaderName] = [.to, .from, .callID, .cseq, .maxForwards, .contentType, .contentLength, .expires]

    static func check(_ headers: SIPHeaders, isRequest: Bool) throws(SyntaxError) {
        var seen: [String: Int] = [:]
        for field in headers {
            try checkField(field)
            seen[field.headerName.key, default: 0] += 1
        }
        for name in singleValued where (seen[name.key] ?? 0) > 1 {
            throw SyntaxError("more than one \(name) header")
        }
        // §8.1.1: To, From, CSeq, Call-ID and Via are mandatory (Max-Forwards too, but RFC 2543
        // devices omit it, so its absence is tolerated).
        for name in [HeaderName.to, .from, .callID, .cseq, .via] where seen[name.key] == nil {
            throw SyntaxError("missing \(name) header")
        }
    }

    private static func checkField(_ field: SIPHeaderField) throws(SyntaxError) {
        let value = field.value
        do throws(SyntaxError) {
            switch field.headerName.key {
            case "via":
                _ = try Via.parseList(value)
            case "from", "to":
                _ = try NameAddress(value)
            case "contact":
                _ = try ContactValue(value)
            case "route", "record-route", "path":
                _ = try NameAddress.parseList(value)
            case "call-id":
                try checkCallID(value)
            case "cseq":
                _ = try CSeq(value)
            case "max-forwards":
                guard parseDecimal(value, limit: NumericLimits.maxMaxForwards) != nil else {
                    throw SyntaxError("must be a number from 0 to 255")
                }
            case "expires", "min-expires":
                guard parseDecimal(value, limit: NumericLimits.maxExpires) != nil else {
                    throw SyntaxError("must be a number below 2^32")
                }
            case "content-type":
                _ = try MediaType(value)
            case "require", "proxy-require", "supported", "unsupported":
                _ = try TokenList.parse(value)
            default:
                break
            }
        } catch {
            throw SyntaxError("invalid \(field.headerName) header: \(error.reason)")
        }
    }

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
