// The auth-param lists of WWW-Authenticate, Proxy-Authenticate, Authorization and
// Proxy-Authorization (RFC 3261 §25.1, RFC 7616 §3.3–3.4).

public struct DigestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// `Scheme name=value, name="quoted value", ...` with names lowercased; order kept.
struct AuthParams: Sendable, Hashable {
    var scheme: String
    var pairs: [(name: String, value: String, quoted: Bool)]

    static func == (a: AuthParams, b: AuthParams) -> Bool {
        a.scheme == b.scheme && a.pairs.elementsEqual(b.pairs) { $0.name == $1.name && $0.value == $1.value && $0.quoted == $1.quoted }
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(scheme)
        for pair in pairs { hasher.combine(pair.name); hasher.combine(pair.value) }
    }

    subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }

    init(scheme: String, pairs: [(name: String, value: String, quoted: Bool)]) {
        self.scheme = scheme
        self.pairs = pairs
    }

    init(parsing text: String) throws(DigestError) {
        let bytes = Array(text.utf8)
        var i = 0
        func skipSpace() { while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 } }
        func token() -> String {
            let start = i
            while i < bytes.count, Self.isTokenByte(bytes[i]) { i += 1 }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }
        skipSpace()
        scheme = token()
        guard !scheme.isEmpty else { throw DigestError("no authentication scheme") }
        var pairs: [(String, String, Bool)] = []
        while true {
            skipSpace()
            if i >= bytes.count { break }
            let name = token().lowercased()
            guard !name.isEmpty else { throw DigestError("malformed auth-param list near byte \(i)") }
            skipSpace()
            guard i < bytes.count, bytes[i] == 0x3D else { throw DigestError("auth-param '\(name)' has no '='") }
            i += 1
            skipSpace()
            var value: [UInt8] = []
            var quoted = false
            if i < bytes.count, bytes[i] == 0x22 {
                quoted = true
                i += 1
                var closed = false
                while i < bytes.count {
                    if bytes[i] == 0x5C, i + 1 < bytes.count { value.append(bytes[i + 1]); i += 2; continue }
                    if bytes[i] == 0x22 { closed = true; i += 1; break }
                    value.append(bytes[i])
                    i += 1
                }
                guard closed else { throw DigestError("unterminated quoted value for '\(name)'") }
            } else {
                let start = i
                while i < bytes.count, Self.isTokenByte(bytes[i]) || bytes[i] == 0x2F || bytes[i] == 0x3A { i += 1 }
                value = Array(bytes[start..<i])
            }
            pairs.append((name, String(decoding: value, as: UTF8.self), quoted))
            skipSpace()
            if i < bytes.count {
                guard bytes[i] == 0x2C else { throw DigestError("expected ',' after auth-param '\(name)'") }
                i += 1
            }
        }
        self.pairs = pairs
    }

    var text: String {
        scheme + " " + pairs.map { pair in
            pair.quoted ? "\(pair.name)=\"\(pair.value.replacingBackslashAndQuote())\"" : "\(pair.name)=\(pair.value)"
        }.joined(separator: ", ")
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "-.!%*_+`'~".utf8.contains(b)
    }
}

extension String {
    func replacingBackslashAndQuote() -> String {
        var out = ""
        for c in self {
            if c == "\\" || c == "\"" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
