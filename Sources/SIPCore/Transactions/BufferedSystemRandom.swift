// The kernel's random numbers (/dev/urandom), fetched 4 KiB at a time. Branches, tags, Call-IDs and nonces need
// unpredictable values (RFC 3261 §19.3), many per call; one system call per value would cost more
// than building the message. Each value is used once, so nothing is lost against the kernel's own.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

public struct BufferedSystemRandom: RandomNumberGenerator, Sendable {
    private static let pool = Mutex(Pool())

    public init() {}

    public mutating func next() -> UInt64 {
        Self.pool.withLock { $0.next() }
    }

    private struct Pool: ~Copyable {
        var values = [UInt64](repeating: 0, count: 512)
        var index = 512
        var device: Int32 = -1

        mutating func next() -> UInt64 {
            if index == values.count { refill() }
            defer { index += 1 }
            return values[index]
        }

        private mutating func refill() {
            let filled = values.withUnsafeMutableBytes { buffer -> Bool in
                #if canImport(Glibc)
                if device < 0 { device = open("/dev/urandom", O_RDONLY | O_CLOEXEC) }
                guard device >= 0 else { return false }
                var offset = 0
                while offset < buffer.count {
                    let count = read(device, buffer.baseAddress! + offset, buffer.count - offset)
                    if count <= 0 { return false }
                    offset += count
                }
                return true
                #else
                arc4random_buf(buffer.baseAddress!, buffer.count)
                return true
                #endif
            }
            if !filled {
                var system = SystemRandomNumberGenerator()
                for i in values.indices { values[i] = system.next() }
            }
            index = 0
        }
    }
}
