// A stand-in for swift-crypto's module, only for the digest fuzzer (scripts/fuzz digest), which is
// compiled by swiftc alone, without the package's dependencies. The same names and shapes as
// swift-crypto's MD5, SHA-256 and HMAC, computed with FNV-1a: the fuzzer tests how challenges and
// credentials are parsed, written and checked, not the hash. Never linked into the product.

public protocol HashFunction {
    static var byteCount: Int { get }
}

public struct FuzzDigest: Sequence {
    let bytes: [UInt8]
    public func makeIterator() -> IndexingIterator<[UInt8]> { bytes.makeIterator() }
}

func standInHash(_ data: [UInt8], seed: UInt64, count: Int) -> [UInt8] {
    var out: [UInt8] = []
    var state = seed
    while out.count < count {
        for byte in data { state = (state ^ UInt64(byte)) &* 0x100000001b3 }
        state = (state ^ UInt64(out.count)) &* 0x100000001b3
        withUnsafeBytes(of: state.bigEndian) { out += $0 }
    }
    return Array(out.prefix(count))
}

public enum Insecure {
    public enum MD5: HashFunction {
        public static var byteCount: Int { 16 }
        public static func hash(data: [UInt8]) -> FuzzDigest { FuzzDigest(bytes: standInHash(data, seed: 0xcbf29ce484222325, count: 16)) }
    }
}

public enum SHA256: HashFunction {
    public static var byteCount: Int { 32 }
    public static func hash(data: [UInt8]) -> FuzzDigest { FuzzDigest(bytes: standInHash(data, seed: 0x84222325cbf29ce4, count: 32)) }
}

public struct SymmetricKey {
    let bytes: [UInt8]
    public init(data: [UInt8]) { bytes = data }
}

public enum HMAC<H: HashFunction> {
    public static func authenticationCode(for data: [UInt8], using key: SymmetricKey) -> FuzzDigest {
        FuzzDigest(bytes: standInHash(key.bytes + data, seed: 0x9e3779b97f4a7c15, count: H.byteCount))
    }
}
