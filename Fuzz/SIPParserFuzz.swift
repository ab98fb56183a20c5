// libFuzzer entry point for the SIP parser, compiled together with Sources/SIPMessage by
// scripts/fuzz-parser. Properties: parsing never crashes; whatever parses re-serializes to bytes
// that parse again to the same start line and header count; the stream framer never crashes.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    let parser = SIPParser(limits: SIPParserLimits(maxMessageSize: 65_536))
    if let message = try? parser.parse(bytes, framing: .datagram) {
        let again: SIPMessage
        do {
            again = try parser.parse(message.serialized(), framing: .datagram)
        } catch {
            fatalError("a parsed message does not re-parse after serialization: \(error.reason)")
        }
        // Serialization adds Content-Length when the datagram had none; every other field stays.
        let count = { (m: SIPMessage) in m.headers.fields.filter { $0.headerName != .contentLength }.count }
        precondition(count(again) == count(message), "header count changed in a round trip")
        switch (message, again) {
        case (.request(let a), .request(let b)): precondition(a.startLine == b.startLine, "request line changed")
        case (.response(let a), .response(let b)): precondition(a.statusCode == b.statusCode, "status changed")
        default: fatalError("message kind changed in a round trip")
        }
        // Typed accessors must not crash on whatever parsed.
        _ = message.headers.elements(.via)
        if case .request(let request) = message {
            _ = request.vias; _ = request.contacts; _ = request.routes; _ = request.uasRejection()
        }
    } else if case .failure(let error) = Result(catching: { () throws(SIPParseError) in try parser.parse(bytes) }) {
        _ = error.errorResponse(toTag: "fuzz")?.serialized()
    }
    var framer = StreamFramer(limits: SIPParserLimits(maxMessageSize: 65_536))
    framer.append(bytes)
    var steps = 0
    while let output = framer.next(), steps < 1000 {
        if case .message(let frame) = output { _ = try? parser.parse(frame, framing: .stream) }
        steps += 1
    }
    return 0
}
