// Writes messages to bytes (RFC 3261 §7). Content-Length always states the body's real size.

extension SIPRequest {
    public var startLine: String { "\(method) \(uri) \(version)" }

    public func serialized() -> [UInt8] {
        MessageWriter.write(startLine: startLine, headers: headers, body: body)
    }
}

extension SIPResponse {
    public var startLine: String { "\(version) \(statusCode) \(reasonPhrase)" }

    public func serialized() -> [UInt8] {
        MessageWriter.write(startLine: startLine, headers: headers, body: body)
    }
}

extension SIPMessage {
    public func serialized() -> [UInt8] {
        switch self {
        case .request(let r): return r.serialized()
        case .response(let r): return r.serialized()
        }
    }
}

enum MessageWriter {
    static func write(startLine: String, headers: SIPHeaders, body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + headers.count * 48 + body.count)
        out.append(contentsOf: startLine.utf8)
        out.append(.cr); out.append(.lf)
        var wroteLength = false
        for field in headers {
            if field.headerName == .contentLength {
                if wroteLength { continue }
                wroteLength = true
                if parseDecimal(field.value, limit: NumericLimits.maxContentLength) != UInt64(body.count) {
                    out.append(contentsOf: "\(field.name): \(body.count)".utf8)
                    out.append(.cr); out.append(.lf)
                    continue
                }
            }
            out.append(contentsOf: field.line.utf8)
            out.append(.cr); out.append(.lf)
        }
        if !wroteLength {
            out.append(contentsOf: "Content-Length: \(body.count)".utf8)
            out.append(.cr); out.append(.lf)
        }
        out.append(.cr); out.append(.lf)
        out.append(contentsOf: body)
        return out
    }
}
