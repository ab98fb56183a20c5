// A configuration that cannot be used, said in one line that names the file and the key.

import Foundation

public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }

    public static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key '\((path(context) + "." + key.stringValue).trimmingCharacters(in: CharacterSet(charactersIn: ".")))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "bad value at '\(path(context))': \(context.debugDescription)"
        case .dataCorrupted(let context): return "bad value at '\(path(context))': \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
