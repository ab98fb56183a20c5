// A configuration that cannot be used, said in one line that names the file and the key.

import Foundation
import Yams

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

/// Reading a YAML configuration file, every failure said in one line naming the file and key.
public enum ConfigFile {
    public static func load<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ConfigurationError("cannot read \(url.path): \(error.localizedDescription)")
        }
        return try parse(type, text, source: url.path)
    }

    public static func parse<T: Decodable>(_ type: T.Type, _ text: String, source: String) throws -> T {
        do {
            return try YAMLDecoder().decode(type, from: text)
        } catch let error as DecodingError {
            throw ConfigurationError("\(source): \(ConfigurationError.describe(error))")
        } catch {
            throw ConfigurationError("\(source): \(error)")
        }
    }
}
