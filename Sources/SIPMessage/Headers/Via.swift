// The Via header (RFC 3261 §20.42, §18.2.1; rport from RFC 3581).

public struct Via: Sendable, Hashable, CustomStringConvertible {
    /// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
    public static let magicCookie = "z9hG4bK"

    public var protocolName: String = "SIP"
    public var protocolVersion: String = "2.0"
    /// Uppercase transport: UDP, TCP, TLS, SCTP, WS, WSS, or an extension token.
    public var transport: String
    public var host: String
    public var port: Int?
    public var parameters: Parameters

    public init(transport: String, host: String, port: Int?, branch: String, rport: Bool = true) {
        self.transport = transport.uppercased()
        self.host = host
        self.port = port
        self.parameters = Parameters()
        self.parameters.set("branch", raw: branch)
        if rport { self.parameters.setFlag("rport") }
    }

    init(protocolName: String, protocolVersion: String, transport: String, host: String, port: Int?, parameters: Parameters) {
        self.protocolName = protocolName
        self.protocolVersion = protocolVersion
        self.transport = transport
        self.host = host
        self.port = port
        self.parameters = parameters
    }

    public var branch: String? { parameters["branch"] }
    public var received: String? {
        get { parameters["received"] }
        set { parameters["received"] = newValue }
    }
    public var maddr: String? { parameters["maddr"] }

    /// RFC 3581: present (possibly empty) when the client asked for symmetric response routing.
    public var hasRPort: Bool { parameters.contains("rport") }
    public var rport: Int? {
        get { parameters["rport"].flatMap { Int($0) } }
        set {
            if let newValue { parameters.set("rport", raw: String(newValue)) } else { parameters.setFlag("rport") }
        }
    }

    /// True when the branch carries the RFC 3261 magic cookie; otherwise RFC 2543 matching applies.
    public var isRFC3261Branch: Bool { branch?.hasPrefix(Via.magicCookie) ?? false }

    public var sentBy: String { port.map { "\(host):\($0)" } ?? host }

    public var description: String {
        "\(protocolName)/\(protocolVersion)/\(transport) \(sentBy)\(parameters.serialized)"
    }

    /// Parses every via-parm of one Via header field value.
    public static func parseList(_ value: String) throws(SyntaxError) -> [Via] {
        try parseList(value, building: true)
    }

    /// Checks the syntax of a Via field value without building it.
    static func validateList(_ value: String) throws(SyntaxError) {
        _ = try parseList(value, building: false)
    }

    static func parseList(_ value: String, building: Bool) throws(SyntaxError) -> [Via] {
        try value.withUTF8Bytes { (buffer) throws(SyntaxError) -> [Via] in
            var scanner = ByteScanner(buffer, building: building)
            var result: [Via] = []
            scanner.skipWhitespace()
            guard !scanner.isAtEnd else { throw SyntaxError("Via header is empty") }
            repeat {
                let via = try parseOne(&scanner)
                if building { result.append(via) }
            } while try scanner.readListSeparator(what: "Via header")
            return result
        }
    }

    public init(_ value: String) throws(SyntaxError) {
        let list = try Via.parseList(value)
        guard list.count == 1 else { throw SyntaxError("expected one Via value, found \(list.count)") }
        self = list[0]
    }

    /// Reads only the sent-protocol and sent-by of the first value, ignoring malformed parameters:
    /// enough to route an error response for a request whose Via is otherwise broken.
    public static func sentByPrefix(_ value: String) -> Via? {
        value.withUTF8Bytes { buffer in
            var scanner = ByteScanner(buffer)
            let saved = scanner
            if let via = try? parseOne(&scanner) { return via }
            scanner = saved
            return try? parseOne(&scanner, parameters: false)
        }
    }

    static func parseOne(_ scanner: inout ByteScanner, parameters readParameters: Bool = true) throws(SyntaxError) -> Via {
        // sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH = SWS "/" SWS
        scanner.skipWhitespace()
        guard let name = scanner.readToken() else { throw SyntaxError("Via has no protocol name") }
        guard scanner.consumeAfterWhitespace(.slash) else { throw SyntaxError("Via protocol is not NAME/VERSION/TRANSPORT") }
        scanner.skipWhitespace()
        guard let version = scanner.readToken() else { throw SyntaxError("Via has no protocol version") }
        guard scanner.consumeAfterWhitespace(.slash) else { throw SyntaxError("Via protocol is not NAME/VERSION/TRANSPORT") }
        scanner.skipWhitespace()
        guard let transport = scanner.readToken() else { throw SyntaxError("Via has no transport") }
        let hadSpace = scanner.peek().map(CharacterClass.isWhitespace) ?? false
        scanner.skipWhitespace()
        guard hadSpace else { throw SyntaxError("Via needs whitespace between the transport and sent-by") }
        let host: String
        if scanner.peek() == .openBracket {
            let start = scanner.index
            while let b = scanner.peek(), b != .closeBracket { scanner.index += 1 }
            guard scanner.consume(.closeBracket) else { throw SyntaxError("Via has an unterminated IPv6 reference") }
            host = scanner.text(start..<scanner.index)
        } else {
            guard let hostRange = scanner.read(while: viaHostTable) else { throw SyntaxError("Via has no sent-by host") }
            host = scanner.text(hostRange)
        }
        var port: Int?
        if scanner.consumeAfterWhitespace(.colon) {
            scanner.skipWhitespace()
            guard let digits = scanner.read(while: digitTable), let p = scanner.decimal(digits, limit: 65535) else {
                throw SyntaxError("Via sent-by port is not a number from 0 to 65535")
            }
            port = Int(p)
        }
        var parameters = Parameters()
        if readParameters { try scanner.readHeaderParameters(into: &parameters) }
        return Via(
            protocolName: scanner.text(name), protocolVersion: scanner.text(version),
            transport: scanner.building ? scanner.string(transport).uppercased() : "", host: host, port: port, parameters: parameters
        )
    }

    private static let viaHostTable: [Bool] = (0...255).map {
        let b = UInt8($0)
        return CharacterClass.isAlphanumeric(b) || b == 0x2D || b == 0x2E || b == 0x5F
    }
}
