// A client of the call server's CTI API (docs/cti.md), for the collaboration server and for a
// secondary call server: JSON requests with the shared secret, each failure turned into an error
// that names what went wrong.

import Foundation
import Wire
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A CTI request that did not succeed: the call server's own error code and message, or
/// `call_server_unavailable` when it could not be reached.
public struct CTIFailure: Error, Sendable, Equatable {
    public var status: Int
    public var code: String
    public var message: String
    public var details: [String: String]

    static func unreachable(_ error: any Error) -> CTIFailure {
        CTIFailure(status: 503, code: "call_server_unavailable", message: "the call server's CTI API cannot be reached: \(error.localizedDescription)", details: [:])
    }
}

public struct CTIClient: Sendable {
    public let baseURL: URL
    let secret: String
    let session: URLSession

    public init(baseURL: URL, secret: String) {
        self.baseURL = baseURL
        self.secret = secret
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        session = URLSession(configuration: configuration)
    }

    /// The raw body of a GET (a message's audio); anything but 2xx thrown as `CTIFailure`.
    public func bytes(_ path: String) async throws(CTIFailure) -> Data {
        try await exchange("GET", path, body: nil)
    }

    /// Sends a request; a 2xx reply's JSON is returned, anything else thrown as `CTIFailure`.
    @discardableResult
    public func request(_ method: String, _ path: String, body: [String: JSONValue]? = nil) async throws(CTIFailure) -> JSONValue {
        let data = try await exchange(method, path, body: body)
        return data.isEmpty ? JSONValue.null : ((try? JSONDecoder().decode(JSONValue.self, from: data)) ?? .null)
    }

    /// One request with the secret; the body of a 2xx reply, or the call server's error (its
    /// `error`, `message` and other text fields) thrown.
    private func exchange(_ method: String, _ path: String, body: [String: JSONValue]?) async throws(CTIFailure) -> Data {
        // `path` is already escaped (see `pathComponent`) and may carry a query: joined as text.
        let base = baseURL.absoluteString.hasSuffix("/") ? String(baseURL.absoluteString.dropLast()) : baseURL.absoluteString
        guard let url = URL(string: base + "/cti/v1/" + path) else {
            throw CTIFailure(status: 400, code: "invalid_value", message: "not a CTI path: \(path)", details: [:])
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("Bearer \(secret)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = try? JSONEncoder().encode(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data, response: URLResponse
        do { (data, response) = try await session.data(for: request) } catch { throw .unreachable(error) }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            var details: [String: String] = [:]
            var code = "call_server_error", message = "the call server answered \(status)"
            if case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: data) {
                for (key, field) in object {
                    guard let text = field.stringValue else { continue }
                    switch key {
                    case "error": code = text
                    case "message": message = text
                    default: details[key] = text
                    }
                }
            }
            throw CTIFailure(status: status, code: code, message: message, details: details)
        }
        return data
    }

    /// A call id (a SIP Call-ID) made safe for a URL path.
    public static func pathComponent(_ id: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return id.addingPercentEncoding(withAllowedCharacters: allowed) ?? id
    }
}

