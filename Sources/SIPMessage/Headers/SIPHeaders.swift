// The header fields of a message in wire order, with case-insensitive lookup and comma-list splitting.

/// One header field line. Fields the parser read keep their original line, so an unchanged field
/// (an unknown one above all) is written back byte for byte.
public struct SIPHeaderField: Sendable, Hashable {
    /// The name as written (may be a compact form or odd case).
    public let name: String
    /// The value with line folding replaced by a single space and outer whitespace trimmed.
    public let value: String
    public let headerName: HeaderName
    /// The original field line (without its final CRLF) when it differs from `name: value`.
    let rawLine: String?

    public init(_ name: HeaderName, _ value: String) {
        self.name = name.canonicalSpelling
        self.value = value
        self.headerName = name
        self.rawLine = nil
    }

    init(name: String, value: String, headerName: HeaderName, rawLine: String?) {
        self.name = name
        self.value = value
        self.headerName = headerName
        self.rawLine = rawLine
    }

    /// The field line as it goes on the wire (no CRLF).
    public var line: String { rawLine ?? (name + ": " + value) }
}

public struct SIPHeaders: Sendable, Hashable, Sequence {
    public private(set) var fields: [SIPHeaderField]

    public init() { fields = [] }

    public init(_ fields: [SIPHeaderField]) { self.fields = fields }

    public init(_ pairs: [(HeaderName, String)]) {
        fields = pairs.map { SIPHeaderField($0.0, $0.1) }
    }

    public func makeIterator() -> IndexingIterator<[SIPHeaderField]> { fields.makeIterator() }

    public var count: Int { fields.count }

    /// The value of the first field named `name`.
    public subscript(name: HeaderName) -> String? {
        fields.first { $0.headerName == name }?.value
    }

    public func contains(_ name: HeaderName) -> Bool { fields.contains { $0.headerName == name } }

    /// How many fields named `name` the message has (not how many comma-separated values).
    public func fieldCount(_ name: HeaderName) -> Int { fields.reduce(0) { $0 + ($1.headerName == name ? 1 : 0) } }

    /// The values of every field named `name`, in order, one per field line.
    public func values(_ name: HeaderName) -> [String] {
        fields.compactMap { $0.headerName == name ? $0.value : nil }
    }

    /// Every comma-separated element of every field named `name` (RFC 3261 §7.3.1), in order.
    /// Commas inside quoted strings and angle brackets do not split.
    public func elements(_ name: HeaderName) -> [String] {
        values(name).flatMap(SIPHeaders.splitCommaList)
    }

    /// Adds a field after the existing ones.
    public mutating func add(_ name: HeaderName, _ value: String) {
        fields.append(SIPHeaderField(name, value))
    }

    /// Adds a field before every other field of the same name (a new top Via, a new Route).
    public mutating func prepend(_ name: HeaderName, _ value: String) {
        let index = fields.firstIndex { $0.headerName == name } ?? fields.count
        fields.insert(SIPHeaderField(name, value), at: index)
    }

    /// Replaces every field named `name` with one field, kept at the position of the first one.
    public mutating func set(_ name: HeaderName, _ value: String) {
        if let index = fields.firstIndex(where: { $0.headerName == name }) {
            fields[index] = SIPHeaderField(name, value)
            var i = fields.count - 1
            while i > index {
                if fields[i].headerName == name { fields.remove(at: i) }
                i -= 1
            }
        } else {
            add(name, value)
        }
    }

    public mutating func remove(_ name: HeaderName) {
        fields.removeAll { $0.headerName == name }
    }

    /// Removes the first comma-separated element of the first field named `name` (popping the top
    /// Via or Route); the field goes when it has no element left.
    public mutating func removeFirstElement(_ name: HeaderName) {
        guard let index = fields.firstIndex(where: { $0.headerName == name }) else { return }
        var elements = SIPHeaders.splitCommaList(fields[index].value)
        if elements.count <= 1 {
            fields.remove(at: index)
        } else {
            elements.removeFirst()
            fields[index] = SIPHeaderField(name, elements.joined(separator: ", "))
        }
    }

    /// Replaces the first comma-separated element of the first field named `name` (the top Via).
    public mutating func replaceFirstElement(_ name: HeaderName, with value: String) {
        guard let index = fields.firstIndex(where: { $0.headerName == name }) else { add(name, value); return }
        var elements = SIPHeaders.splitCommaList(fields[index].value)
        if elements.isEmpty { elements = [value] } else { elements[0] = value }
        fields[index] = SIPHeaderField(name, elements.joined(separator: ", "))
    }

    mutating func appendParsed(_ field: SIPHeaderField) { fields.append(field) }

    /// Splits on commas outside quoted strings and `<...>`, trimming each element.
    public static func splitCommaList(_ value: String) -> [String] {
        var result: [String] = []
        var inQuotes = false
        var escaped = false
        var angle = 0
        var current: [UInt8] = []
        for b in value.utf8 {
            if inQuotes {
                if escaped { escaped = false } else if b == .backslash { escaped = true } else if b == .quote { inQuotes = false }
                current.append(b)
                continue
            }
            switch b {
            case .quote: inQuotes = true
            case .lessThan: angle += 1
            case .greaterThan: angle = Swift.max(0, angle - 1)
            case .comma where angle == 0:
                result.append(trimmed(current))
                current.removeAll(keepingCapacity: true)
                continue
            default: break
            }
            current.append(b)
        }
        result.append(trimmed(current))
        return result.filter { !$0.isEmpty }
    }

    private static func trimmed(_ bytes: [UInt8]) -> String {
        var start = 0
        var end = bytes.count
        while start < end, CharacterClass.isWhitespace(bytes[start]) { start += 1 }
        while end > start, CharacterClass.isWhitespace(bytes[end - 1]) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
