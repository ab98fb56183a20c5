// Ordered name/value parameters, compared by name case-insensitively (RFC 3261 §19.1.1, §7.3.1).

public struct Parameters: Sendable, Hashable, Sequence {
    public struct Element: Sendable, Hashable {
        /// The name as written.
        public var name: String
        /// The value as written (a quoted string keeps its quotes); nil for a flag parameter.
        public var rawValue: String?
    }

    public private(set) var elements: [Element] = []

    public init() {}

    public init(_ pairs: [(String, String?)]) {
        elements = pairs.map { Element(name: $0.0, rawValue: $0.1) }
    }

    public var isEmpty: Bool { elements.isEmpty }
    public var count: Int { elements.count }
    public func makeIterator() -> IndexingIterator<[Element]> { elements.makeIterator() }

    public func contains(_ name: String) -> Bool { index(of: name) != nil }

    /// The value of `name`, unquoted; "" for a flag parameter; nil when absent.
    public subscript(name: String) -> String? {
        get {
            guard let i = index(of: name) else { return nil }
            guard let raw = elements[i].rawValue else { return "" }
            return Parameters.unquote(raw)
        }
        set {
            if let newValue {
                set(name, raw: Parameters.needsQuoting(newValue) ? Parameters.quote(newValue) : newValue)
            } else {
                remove(name)
            }
        }
    }

    /// The value exactly as written (quotes kept), nil when absent or a flag.
    public func raw(_ name: String) -> String? {
        guard let i = index(of: name) else { return nil }
        return elements[i].rawValue
    }

    public mutating func set(_ name: String, raw: String?) {
        if let i = index(of: name) {
            elements[i].rawValue = raw
        } else {
            elements.append(Element(name: name, rawValue: raw))
        }
    }

    /// Adds a flag parameter (no value), such as `lr` or `rport`.
    public mutating func setFlag(_ name: String) { set(name, raw: nil) }

    public mutating func remove(_ name: String) {
        elements.removeAll { Parameters.namesMatch($0.name, name) }
    }

    mutating func append(name: String, raw: String?) {
        elements.append(Element(name: name, rawValue: raw))
    }

    func index(of name: String) -> Int? {
        elements.firstIndex { Parameters.namesMatch($0.name, name) }
    }

    /// ASCII case-insensitive comparison without allocating.
    static func namesMatch(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { CharacterClass.lowercase($0) == CharacterClass.lowercase($1) }
    }

    /// `;name=value;flag` as it goes on the wire.
    public var serialized: String {
        var out = ""
        for element in elements {
            out += ";"
            out += element.name
            if let value = element.rawValue {
                out += "="
                out += value
            }
        }
        return out
    }

    static func unquote(_ raw: String) -> String {
        guard raw.utf8.count >= 2, raw.utf8.first == .quote, raw.utf8.last == .quote else { return raw }
        var out: [UInt8] = []
        var escaped = false
        for b in raw.utf8.dropFirst().dropLast() {
            if escaped { out.append(b); escaped = false } else if b == .backslash { escaped = true } else { out.append(b) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func needsQuoting(_ value: String) -> Bool {
        value.utf8.contains { !(CharacterClass.token[Int($0)] || $0 == .colon || $0 == .openBracket || $0 == .closeBracket) }
    }

    /// Makes a quoted-string, escaping `"` and `\`.
    public static func quote(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out + "\""
    }
}
