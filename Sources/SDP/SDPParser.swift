// Parsing and writing SDP text (RFC 8866 §5).

public struct SDPError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension SessionDescription {
    public init(parsing text: String) throws(SDPError) {
        var lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        lines.removeAll { $0.isEmpty }
        // No line may hold a NUL or a CR of its own (RFC 8866 §9: text is any byte but NUL, CR, LF).
        if lines.contains(where: { $0.unicodeScalars.contains { $0 == "\0" || $0 == "\r" } }) {
            throw SDPError("an SDP line contains a NUL or a bare CR")
        }
        guard let first = lines.first, first.hasPrefix("v=") else { throw SDPError("SDP must start with v=") }
        guard first == "v=0" else { throw SDPError("unsupported SDP version \(first)") }
        var origin: Origin?
        var description = SessionDescription(origin: Origin(sessionID: 0, sessionVersion: 0, address: "0.0.0.0"), connection: nil, media: [])
        var current: MediaDescription?
        for line in lines.dropFirst() {
            guard line.count >= 2, line.dropFirst().first == "=" else { throw SDPError("malformed SDP line '\(line)'") }
            let type = line.first!
            let value = String(line.dropFirst(2))
            switch type {
            case "o":
                let parts = value.split(separator: " ").map(String.init)
                guard parts.count == 6, let id = UInt64(parts[1]), let version = UInt64(parts[2]) else {
                    throw SDPError("malformed o= line '\(value)'")
                }
                var o = Origin(username: parts[0], sessionID: id, sessionVersion: version, address: parts[5], addressType: parts[4])
                o.networkType = parts[3]
                origin = o
            case "s":
                description.sessionName = value
            case "c":
                let connection = try Self.parseConnection(value)
                if current != nil { current!.connection = connection } else { description.connection = connection }
            case "t":
                description.timing = value
            case "m":
                if let media = current { description.media.append(media) }
                current = try Self.parseMedia(value)
            case "a":
                let attribute = Self.parseAttribute(value)
                if current != nil { current!.attributes.append(attribute) } else { description.attributes.append(attribute) }
            default:
                if current != nil { current!.otherLines.append(line) } else { description.otherSessionLines.append(line) }
            }
        }
        if let media = current { description.media.append(media) }
        guard let origin else { throw SDPError("SDP has no o= line") }
        description.origin = origin
        for media in description.media where !media.isRejected && media.connection == nil && description.connection == nil {
            throw SDPError("\(media.media) stream has no connection address (c=)")
        }
        self = description
    }

    static func parseConnection(_ value: String) throws(SDPError) -> Connection {
        let parts = value.split(separator: " ").map(String.init)
        guard parts.count == 3, parts[0] == "IN" else { throw SDPError("malformed c= line '\(value)'") }
        // A multicast TTL suffix ("/127") is not used for unicast telephony; keep the address only.
        let address = parts[2].split(separator: "/").first.map(String.init) ?? parts[2]
        return Connection(address: address, addressType: parts[1])
    }

    static func parseMedia(_ value: String) throws(SDPError) -> MediaDescription {
        let parts = value.split(separator: " ").map(String.init)
        guard parts.count >= 3 else { throw SDPError("malformed m= line '\(value)'") }
        // <port> or <port>/<number of ports> (RFC 8866 §5.14); "/" alone, "5004/", "/2" are errors.
        let portParts = parts[1].split(separator: "/", omittingEmptySubsequences: false)
        guard portParts.count <= 2, let first = portParts.first, let port = Int(first), (0...65535).contains(port) else {
            throw SDPError("bad port in m= line '\(value)'")
        }
        var media = MediaDescription(media: parts[0], port: port, proto: parts[2], formats: Array(parts.dropFirst(3)))
        if portParts.count == 2 {
            guard let count = Int(portParts[1]), count >= 1 else { throw SDPError("bad number of ports in m= line '\(value)'") }
            media.portCount = count
        }
        return media
    }

    static func parseAttribute(_ value: String) -> Attribute {
        if let colon = value.firstIndex(of: ":") {
            return Attribute(String(value[..<colon]), String(value[value.index(after: colon)...]))
        }
        return Attribute(value)
    }

    /// The SDP text with CRLF line ends.
    public var text: String {
        var lines = ["v=\(version)"]
        lines.append("o=\(origin.username) \(origin.sessionID) \(origin.sessionVersion) \(origin.networkType) \(origin.addressType) \(origin.address)")
        lines.append("s=\(sessionName)")
        lines.append(contentsOf: otherSessionLines.filter { !$0.hasPrefix("b=") })
        if let connection { lines.append("c=\(connection.networkType) \(connection.addressType) \(connection.address)") }
        lines.append(contentsOf: otherSessionLines.filter { $0.hasPrefix("b=") })
        lines.append("t=\(timing)")
        lines.append(contentsOf: attributes.map(\.line))
        for media in self.media {
            let port = media.portCount.map { "\(media.port)/\($0)" } ?? "\(media.port)"
            lines.append((["m=\(media.media) \(port) \(media.proto)"] + media.formats).joined(separator: " "))
            if let connection = media.connection {
                lines.append("c=\(connection.networkType) \(connection.addressType) \(connection.address)")
            }
            lines.append(contentsOf: media.otherLines)
            lines.append(contentsOf: media.attributes.map(\.line))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
