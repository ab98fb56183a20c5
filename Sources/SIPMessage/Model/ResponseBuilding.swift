// Building responses to requests (RFC 3261 §8.2.6) and the checks a UAS makes before
// processing a request (§8.2.1–8.2.3).

extension SIPResponse {
    /// A response to `request`: Via, From, To, Call-ID and CSeq copied (§8.2.6.2); a To tag is
    /// added when the request's To has none and `toTag` is given (every non-100 response).
    public init(replyingTo request: SIPRequest, statusCode: Int, reasonPhrase: String? = nil, toTag: String? = nil) {
        self.init(replyingTo: request.headers, statusCode: statusCode, reasonPhrase: reasonPhrase, toTag: toTag)
        if statusCode == 100, let timestamp = request.headers["timestamp"] {
            headers.add("Timestamp", timestamp)
        }
    }

    /// A response built from the headers of a request that may not have parsed completely.
    public init(replyingTo requestHeaders: SIPHeaders, statusCode: Int, reasonPhrase: String? = nil, toTag: String? = nil) {
        var headers = SIPHeaders()
        for field in requestHeaders where field.headerName == .via {
            headers.add(.via, field.value)
        }
        if let from = requestHeaders[.from] { headers.add(.from, from) }
        if var to = requestHeaders[.to] {
            if let toTag, statusCode != 100, (try? NameAddress(to))?.tag == nil {
                to += ";tag=" + toTag
            }
            headers.add(.to, to)
        }
        if let callID = requestHeaders[.callID] { headers.add(.callID, callID) }
        if let cseq = requestHeaders[.cseq] { headers.add(.cseq, cseq) }
        self.init(statusCode: statusCode, reasonPhrase: reasonPhrase, headers: headers)
    }
}

/// What a UAS supports, for the checks of §8.2.2–8.2.3.
public struct UASCapabilities: Sendable {
    public var allowedMethods: [SIPMethod]
    public var supportedExtensions: Set<String>
    public var acceptedContentTypes: Set<String>

    public init(
        allowedMethods: [SIPMethod] = [.invite, .ack, .bye, .cancel, .options, .info, .update, .refer, .notify, .message],
        supportedExtensions: Set<String> = ["replaces", "norefersub", "outbound", "path"],
        acceptedContentTypes: Set<String> = ["application/sdp", "application/dtmf-relay", "message/sipfrag", "text/plain", "multipart/mixed"]
    ) {
        self.allowedMethods = allowedMethods
        self.supportedExtensions = supportedExtensions
        self.acceptedContentTypes = acceptedContentTypes
    }
}

extension SIPRequest {
    /// The error response a UAS must send before processing this request, or nil if it may go on:
    /// 416 for a Request-URI scheme it cannot handle, 420 with Unsupported for unknown Require
    /// option tags, 415 with Accept for a body type it does not understand (§8.2.2, §8.2.3).
    public func uasRejection(_ capabilities: UASCapabilities = UASCapabilities(), toTag: String? = nil) -> SIPResponse? {
        switch uri {
        case .sip, .tel: break
        case .other(let scheme, _):
            return SIPResponse(replyingTo: self, statusCode: 416, reasonPhrase: "Unsupported URI Scheme: \(scheme)", toTag: toTag)
        }
        if method != .ack, method != .cancel {
            let unsupported = require.filter { !capabilities.supportedExtensions.contains($0.lowercased()) }
            if !unsupported.isEmpty {
                var response = SIPResponse(replyingTo: self, statusCode: 420, reasonPhrase: "Bad Extension", toTag: toTag)
                response.headers.add(.unsupported, unsupported.joined(separator: ", "))
                return response
            }
        }
        if !body.isEmpty, method != .ack {
            let type = contentType?.essence ?? "application/sdp"
            if !capabilities.acceptedContentTypes.contains(type) {
                var response = SIPResponse(replyingTo: self, statusCode: 415, reasonPhrase: "Unsupported Media Type: \(type)", toTag: toTag)
                response.headers.add(.accept, capabilities.acceptedContentTypes.sorted().joined(separator: ", "))
                return response
            }
        }
        return nil
    }
}

extension SIPParseError {
    /// The error response for a rejected request whose Via could be read (§8.2, §21.4.1);
    /// nil for a response or when there is nothing to route a reply by (the message is dropped).
    public func errorResponse(toTag: String? = nil) -> SIPResponse? {
        guard let partial, partial.isRequest, partial.method != .ack else { return nil }
        guard let via = partial.headers[.via], Via.sentByPrefix(via) != nil else { return nil }
        let phrase = reason.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(200)
        return SIPResponse(
            replyingTo: partial.headers, statusCode: statusCode,
            reasonPhrase: String(String.UnicodeScalarView(phrase)), toTag: toTag
        )
    }
}
