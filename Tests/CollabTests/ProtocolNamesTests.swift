// The session's names are typed once in Wire; docs/protocol.md, which other clients are written
// from, must name every one of them.

import Foundation
import Testing
import Wire

@Suite struct ProtocolNamesTests {
    static let protocolText: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("docs/protocol.md"), encoding: .utf8)) ?? ""
    }()

    @Test func docsNameEveryFrameMethodAndEvent() {
        #expect(!Self.protocolText.isEmpty, "docs/protocol.md is readable")
        let names = CollabFrame.allCases.map(\.rawValue) + CollabMethod.allCases.map(\.rawValue) + CollabEvent.allCases.map(\.rawValue)
        let missing = names.filter { !Self.protocolText.contains($0) }
        #expect(missing.isEmpty, "docs/protocol.md does not name \(missing)")
    }

    @Test func namesAreDistinct() {
        #expect(Set(CollabMethod.allCases.map(\.rawValue)).count == CollabMethod.allCases.count)
        #expect(Set(CollabEvent.allCases.map(\.rawValue)).count == CollabEvent.allCases.count)
    }
}
