// Bounded waits for tests: every await on an event has a deadline and a message.

import Foundation

public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public let seconds: Double
    public init(what: String, seconds: Double) {
        self.what = what
        self.seconds = seconds
    }

    public var description: String { "timed out after \(seconds) s waiting for \(what)" }
}

/// Runs `body`, failing with `TimedOut` if it has not finished within `seconds`.
public func withTimeout<T: Sendable>(
    _ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TimedOut(what: what, seconds: seconds)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

extension AsyncStream {
    /// The next element that satisfies `predicate`, within `seconds`.
    public func first(within seconds: Double, _ what: String, where predicate: @escaping @Sendable (Element) -> Bool) async throws -> Element
    where Element: Sendable {
        let stream = self
        return try await withTimeout(seconds, what) {
            for await element in stream where predicate(element) { return element }
            throw TimedOut(what: what + " (stream ended)", seconds: seconds)
        }
    }
}

/// Waits until `condition` holds (checked every 20 ms), failing with `TimedOut` after `seconds`:
/// for state that has no event to await, such as a counter another thread moves.
public func waitUntil(within seconds: Double, _ what: String, _ condition: @escaping @Sendable () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else { throw TimedOut(what: what, seconds: seconds) }
        try await Task.sleep(for: .milliseconds(20))
    }
}
