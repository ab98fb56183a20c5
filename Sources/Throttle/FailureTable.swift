// Failures counted per key within a window, in bounded memory: the one mechanism behind the
// collaboration login's limits and the call server's digest bans. A plain value; time is passed in
// (seconds).

public struct FailureTable: Sendable, Equatable {
    /// Keys held at most; when full, the key whose last failure is oldest goes first.
    public static let capacity = 10_000
    /// Failures kept per key at most (enough for any limit).
    static let perKey = 100
    private var times: [String: [Double]] = [:]

    public init() {}

    public var count: Int { times.count }

    /// The failures held for `key` (nil: none).
    public subscript(key: String) -> [Double]? { times[key] }

    /// The failures of `key` within `window` seconds of `now`, oldest first (older ones are dropped).
    public mutating func recent(_ key: String, now: Double, window: Double) -> [Double] {
        guard let all = times[key] else { return [] }
        let kept = all.filter { now - $0 < window }
        times[key] = kept.isEmpty ? nil : kept
        return kept
    }

    public mutating func add(_ key: String, now: Double) {
        if times[key] == nil, times.count >= Self.capacity,
           let stalest = times.min(by: { ($0.value.last ?? -.infinity) < ($1.value.last ?? -.infinity) })?.key {
            times[stalest] = nil
        }
        times[key, default: []].append(now)
        if times[key]!.count > Self.perKey { times[key]!.removeFirst(times[key]!.count - Self.perKey) }
    }

    public mutating func remove(_ key: String) { times[key] = nil }
}
