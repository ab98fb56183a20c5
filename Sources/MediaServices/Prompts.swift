// The call server's spoken prompts, generated speech committed as 8 kHz WAVs (Prompts/, made by
// scripts/prompts from Prompts/prompts.txt), loaded once; and the phrases built from them.

import Audio
import Foundation

/// Every prompt, by name, as 8 kHz mono samples.
public struct Prompts: Sendable {
    public let samples: [String: [Int16]]

    /// The prompts shipped with the call server.
    public static let shipped: Prompts = {
        guard let directory = Bundle.module.url(forResource: "Prompts", withExtension: nil) else { return Prompts(samples: [:]) }
        return (try? Prompts(directory: directory)) ?? Prompts(samples: [:])
    }()

    public init(samples: [String: [Int16]]) { self.samples = samples }

    /// Reads every prompt of the directory's prompts.txt (name|text per line) from name.wav; a
    /// listed prompt without its file is an error naming it.
    public init(directory: URL) throws(WAVError) {
        let list: String
        do { list = try String(contentsOf: directory.appendingPathComponent("prompts.txt"), encoding: .utf8) } catch {
            throw WAVError("\(directory.path)/prompts.txt cannot be read: \(error.localizedDescription)")
        }
        var samples: [String: [Int16]] = [:]
        for name in Self.names(in: list) {
            samples[name] = try WAV.read(directory.appendingPathComponent("\(name).wav"))
        }
        self.samples = samples
    }

    /// The names a prompt list declares (comments and blank lines skipped).
    public static func names(in list: String) -> [String] {
        list.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let bar = trimmed.firstIndex(of: "|") else { return nil }
            return String(trimmed[..<bar])
        }
    }

    /// The prompts of `phrase` one after another; a prompt that is missing is skipped.
    public func play(_ phrase: [String]) -> [Int16] {
        phrase.flatMap { samples[$0] ?? [] }
    }

    /// A number as prompts: 1–20 alone, 21–99 as tens and units; nil outside 1–99.
    public static func number(_ n: Int) -> [String]? {
        switch n {
        case 1...20: return ["n\(n)"]
        case 21...99: return n % 10 == 0 ? ["n\(n)"] : ["n\(n / 10 * 10)", "n\(n % 10)"]
        default: return nil
        }
    }
}
