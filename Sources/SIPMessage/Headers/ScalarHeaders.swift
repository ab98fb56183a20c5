// Small typed headers: CSeq, Content-Type, option-tag lists, and the range-checked numbers.

/// CSeq (RFC 3261 §20.16): a sequence number below 2^31 and the request method.
public struct CSeq: Sendable, Hashable, CustomStringConvertible {
    public var sequence: UInt32
    public var method: SIPMethod

    public init(_ sequence: UInt32, _ method: SIPMethod) {
        self.sequence = sequence
        self.method = method
    }

    public init(_ value: String) throws(SyntaxError) {
        self = try value.withUTF8Bytes { (buffer) throws(SyntaxError) -> CSeq in
            var scanner = ByteScanner(buffer)
            scanner.skipWhitespace()
            guard let digits = scanner.read(while: digitTable) else { throw SyntaxError("CSeq has no sequence number") }
            guard let number = scanner.decimal(digits, limit: UInt64(Int32.max)) else {
                throw SyntaxError("CSeq sequence number must be less than 2^31")
            }
            scanner.skipWhitespace()
            guard let method = scanner.readToken() else { throw SyntaxError("CSeq has no method") }
            scanner.skipWhitespace()
            guard scanner.isAtEnd else { throw SyntaxError("unexpected text after the CSeq method") }
            return CSeq(UInt32(number), SIPMethod(scanner.string(method)))
        }
    }

    public var description: String { "\(sequence) \(method)" }
}

/// A media type with parameters: Content-Type, Accept elements (RFC 3261 §20.15).
public struct MediaType: Sendable, Hashable, CustomStringConvertible {
    public var type: String
    public var subtype: String
    public var parameters: Parameters

    public init(type: String, subtype: String, parameters: Parameters = Parameters()) {
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
    }

    public static let sdp = MediaType(type: "application", subtype: "sdp")
    public static let dtmfRelay = MediaType(type: "application", subtype: "dtmf-relay")
    public static let sipfrag = MediaType(type: "message", subtype: "sipfrag")

    /// "type/subtype" lowercased, for comparisons.
    public var essence: String { (type + "/" + subtype).lowercased() }

    public var description: String { "\(type)/\(subtype)\(parameters.serialized)" }

    public init(_ value: String) throws(SyntaxError) {
        self = try value.withUTF8Bytes { (buffer) throws(SyntaxError) -> MediaType in
            var scanner = ByteScanner(buffer)
            let result = try MediaType.parse(&scanner)
            scanner.skipWhitespace()
            guard scanner.isAtEnd else { throw SyntaxError("unexpected text after the media type") }
            return result
        }
    }

    static func parse(_ scanner: inout ByteScanner) throws(SyntaxError) -> MediaType {
        scanner.skipWhitespace()
        guard let type = scanner.readToken() else { throw SyntaxError("media type has no type") }
        guard scanner.consumeAfterWhitespace(.slash) else { throw SyntaxError("media type is not type/subtype") }
        scanner.skipWhitespace()
        guard let subtype = scanner.readToken() else { throw SyntaxError("media type has no subtype") }
        var parameters = Parameters()
        try scanner.readHeaderParameters(into: &parameters)
        return MediaType(type: scanner.string(type), subtype: scanner.string(subtype), parameters: parameters)
    }
}

/// Option tags and other token lists: Require, Supported, Proxy-Require, Unsupported, Allow.
public enum TokenList {
    public static func parse(_ value: String) throws(SyntaxError) -> [String] {
        try value.withUTF8Bytes { (buffer) throws(SyntaxError) -> [String] in
            var scanner = ByteScanner(buffer)
            var tokens: [String] = []
            scanner.skipWhitespace()
            if scanner.isAtEnd { return [] }  // Supported may be empty (§20.37)
            repeat {
                scanner.skipWhitespace()
                guard let token = scanner.readToken() else { throw SyntaxError("expected a token in the list") }
                tokens.append(scanner.string(token))
            } while try scanner.readListSeparator(what: "token list")
            return tokens
        }
    }
}

/// Range limits for numeric header fields (RFC 3261 §20, §25).
public enum NumericLimits {
    public static let maxCSeq: UInt64 = UInt64(Int32.max)        // CSeq < 2^31
    public static let maxMaxForwards: UInt64 = 255
    public static let maxExpires: UInt64 = UInt64(UInt32.max)    // Expires < 2^32
    public static let maxContentLength: UInt64 = UInt64(Int32.max)
}
