// Replays the fuzzer's regression inputs and seeds: none may crash, and each parses or fails with a reason.

import Foundation
import Testing
@testable import SIPMessage

@Suite struct FuzzRegressionTests {
    static let directories = ["regressions", "seeds"].map {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz").appendingPathComponent($0)
    }

    static func inputs() -> [String] {
        directories.flatMap { directory in
            ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
                .map { directory.appendingPathComponent($0).path }
        }
    }

    @Test func thereAreInputsToReplay() {
        #expect(Self.inputs().count >= 4)
    }

    @Test(arguments: inputs())
    func inputParsesOrFailsWithAReason(_ path: String) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        do {
            let message = try SIPParser().parse(bytes)
            let again = try SIPParser().parse(message.serialized())
            let count = { (m: SIPMessage) in m.headers.fields.filter { $0.headerName != .contentLength }.count }
            #expect(count(again) == count(message))
            #expect(again.headers[.contentLength] == String(again.request?.body.count ?? again.response?.body.count ?? -1))
        } catch {
            #expect(!error.reason.isEmpty)
        }
    }
}
