// Request bodies and query parameters read field by field, each failure naming the field.

import Foundation
import Hummingbird
import NIOCore
import Wire

public enum JSONBody {
    /// The body as a JSON object (at most `limit` bytes).
    public static func object(_ request: Request, limit: Int = 64 * 1024) async throws -> [String: JSONValue] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "body_too_large", "the request body is over \(limit / 1024) KiB")
        }
        guard buffer.readableBytes > 0 else { throw APIError(.badRequest, "invalid_json", "a JSON object body is required") }
        return try object(Data(buffer.readableBytesView))
    }

    /// The body as a JSON object, or an empty one when there is no body.
    public static func optionalObject(_ request: Request, limit: Int = 64 * 1024) async throws -> [String: JSONValue] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "body_too_large", "the request body is over \(limit / 1024) KiB")
        }
        return buffer.readableBytes == 0 ? [:] : try object(Data(buffer.readableBytesView))
    }

    public static func object(_ data: Data) throws -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw APIError(.badRequest, "invalid_json", "the body is not valid JSON")
        }
        guard case .object(let object) = value else { throw APIError(.badRequest, "invalid_json", "the body must be a JSON object") }
        return object
    }

    /// A required non-empty string field.
    public static func string(_ body: [String: JSONValue], _ field: String) throws -> String {
        guard let value = body[field] else { throw APIError.missing(field) }
        guard case .string(let text) = value, !text.isEmpty else { throw APIError.invalid(field, "a non-empty string") }
        return text
    }

    /// A required non-empty string field of at most `maxLength` characters.
    public static func string(_ body: [String: JSONValue], _ field: String, maxLength: Int) throws -> String {
        let text = try string(body, field)
        guard text.count <= maxLength else { throw APIError.invalid(field, "at most \(maxLength) characters") }
        return text
    }

    /// An optional string field of at most `maxLength` characters.
    public static func optionalString(_ body: [String: JSONValue], _ field: String, maxLength: Int) throws -> String? {
        let text = try optionalString(body, field)
        if let text, text.count > maxLength { throw APIError.invalid(field, "at most \(maxLength) characters") }
        return text
    }

    /// An optional string field (absent or null: nil).
    public static func optionalString(_ body: [String: JSONValue], _ field: String) throws -> String? {
        switch body[field] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw APIError.invalid(field, "a string")
        }
    }

    /// An optional whole-number field within `range`.
    public static func optionalInteger(_ body: [String: JSONValue], _ field: String, in range: ClosedRange<Int64>) throws -> Int64? {
        switch body[field] {
        case nil, .null?: return nil
        case .int(let n)? where range.contains(n): return n
        default: throw APIError.invalid(field, "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
    }

    /// Refuses any field not in `allowed`.
    public static func only(_ allowed: Set<String>, in body: [String: JSONValue]) throws {
        if let unknown = body.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError(.badRequest, "unknown_field", "unknown field \(unknown) (expected: \(allowed.sorted().joined(separator: ", ")))", details: ["field": unknown])
        }
    }

    /// A query parameter that must be a whole number ≥ 0 when present.
    public static func queryInteger(_ request: Request, _ name: String) throws -> Int64? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw APIError(.badRequest, "invalid_value", "\(name) must be a whole number ≥ 0, not \(text)", details: ["field": name])
        }
        return value
    }
}
