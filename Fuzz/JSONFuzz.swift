// libFuzzer entry point for the JSON every API decodes (Wire: JSONValue, the typed messages and
// CTI events), compiled with Sources/Wire by scripts/fuzz. Properties: no input crashes a
// decoder; a JSON value that decodes re-encodes to one that decodes equal.

import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let bytes = Data(UnsafeRawBufferPointer(start: data, count: size))
    guard let value = try? JSONDecoder().decode(JSONValue.self, from: bytes) else { return 0 }
    guard let encoded = try? JSONEncoder().encode(value), let again = try? JSONDecoder().decode(JSONValue.self, from: encoded) else {
        fatalError("a decoded JSON value does not decode again after encoding")
    }
    precondition(same(again, value), "a JSON value changed in a round trip: \(value) became \(again)")
    // The typed messages, as the servers and the phone read them.
    _ = try? value.decode(CallSettings.self)
    _ = try? value.decode(AgentInfo.self)
    _ = try? value.decode(PathInfo.self)
    _ = try? value.decode(WallboardSnapshot.self)
    _ = try? value.decode(Provisioning.self)
    if case .object(let fields) = value {
        for kind in CTIEvent.allCases { _ = CTIMessage(kind, fields: fields) }
    }
    return 0
}

/// Equal, numbers compared by value (a double that is whole may come back as an integer).
func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    case (.object(let x), .object(let y)): return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
    default: return a == b
    }
}
