// An N-party audio mixer: each party hears everyone but itself. One pass builds the total; each
// party's mix is the total minus its own contribution, so the cost is linear in N.

public struct Mixer: Sendable {
    public init() {}

    /// `inputs[i]` is party i's 20 ms frame (missing or short frames count as silence); returns
    /// what each party hears, saturated to 16 bits.
    public func mix(_ inputs: [[Int16]], frameSize: Int = samplesPerFrame) -> [[Int16]] {
        var total = [Int32](repeating: 0, count: frameSize)
        for input in inputs {
            for i in 0..<min(frameSize, input.count) { total[i] += Int32(input[i]) }
        }
        return inputs.map { input in
            var out = [Int16](repeating: 0, count: frameSize)
            for i in 0..<frameSize {
                let own = i < input.count ? Int32(input[i]) : 0
                out[i] = Int16(clamping: total[i] - own)
            }
            return out
        }
    }
}
