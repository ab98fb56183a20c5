// JSON over HTTP for the project's APIs (the call server's CTI, the collaboration server, the
// phone's local API): one error shape, one encoder, request bodies checked field by field.

import Foundation
import Hummingbird
import NIOCore
import Wire

/// A refused request: HTTP status, a stable `error` code, a sentence for people, and the field or
/// object at fault. Its body is `{"error": code, "message": text, ...details}`.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var details: [String: String]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, details: [String: String] = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    public var response: Response {
        var body = details.mapValues(JSONValue.string)
        body["error"] = .string(code)
        body["message"] = .string(message)
        return JSONResponse.make(body, status: status)
    }

    public static func invalid(_ field: String, _ expected: String) -> APIError {
        APIError(.badRequest, "invalid_value", "\(field) must be \(expected)", details: ["field": field])
    }

    public static func missing(_ field: String) -> APIError {
        APIError(.badRequest, "missing_field", "\(field) is required", details: ["field": field])
    }
}

/// Turns every failure into a JSON error body. `translate` maps an application's own error types.
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let translate: @Sendable (any Error) -> APIError?

    public init(translate: @escaping @Sendable (any Error) -> APIError? = { _ in nil }) {
        self.translate = translate
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as HTTPError {
            let code = switch error.status.code {
            case 404: "not_found"
            case 405: "method_not_allowed"
            case 413: "body_too_large"
            default: "bad_request"
            }
            let message = error.status.code == 404 ? "no such resource: \(request.method) \(request.uri.path)" : (error.body ?? error.status.reasonPhrase)
            return APIError(error.status, code, message).response
        } catch {
            if let translated = translate(error) { return translated.response }
            return APIError(.internalServerError, "internal", "\(error)").response
        }
    }
}

public enum JSONResponse {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    public static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("{\"error\":\"internal\",\"message\":\"response could not be encoded\"}".utf8)
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    public static func text(_ value: some Encodable) -> String {
        String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }
}
