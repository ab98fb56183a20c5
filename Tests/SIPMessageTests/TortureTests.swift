// RFC 4475 torture messages, read in place, checked against the verdicts of MANIFEST.tsv.

import Foundation
import Testing
@testable import SIPMessage

struct TortureCase: CustomTestStringConvertible, Sendable {
    let name: String
    let section: String
    let verdict: String
    let reply: String
    var testDescription: String { "\(name) (§\(section), \(verdict), reply \(reply))" }

    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/testdata/rfc4475")

    static func all() -> [TortureCase] {
        guard let manifest = try? String(contentsOf: directory.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8) else {
            return []
        }
        return manifest.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            let columns = line.split(separator: "\t").map(String.init)
            guard columns.count == 4, columns[0] != "name" else { return nil }
            return TortureCase(name: columns[0], section: columns[1], verdict: columns[2], reply: columns[3])
        }
    }

    func bytes() throws -> [UInt8] {
        Array(try Data(contentsOf: TortureCase.directory.appendingPathComponent(name + ".dat")))
    }
}

@Suite struct RFC4475TortureTests {
    @Test func manifestIsReadInPlace() {
        #expect(TortureCase.all().count == 49, "expected the 49 RFC 4475 messages in \(TortureCase.directory.path)")
    }

    @Test(arguments: TortureCase.all())
    func verdictMatchesManifest(_ torture: TortureCase) throws {
        let outcome = Result { () throws(SIPParseError) -> SIPMessage in try SIPParser().parse(try! torture.bytes()) }
        switch torture.verdict {
        case "valid":
            let message = try outcome.get()
            // A valid message re-serializes to something that parses to the same message.
            let again = try SIPParser().parse(message.serialized())
            #expect(again.headers.count == message.headers.count)
        case "invalid":
            guard case .failure(let error) = outcome else {
                Issue.record("\(torture.name) parsed but RFC 4475 says it is invalid")
                return
            }
            #expect(!error.reason.isEmpty)
        default:
            break
        }
        // The reply a server gives: parse errors answered by their status, else the UAS checks.
        let reply: String
        switch outcome {
        case .success(.request(let request)):
            reply = request.uasRejection().map { String($0.statusCode) } ?? "-"
        case .success(.response):
            reply = "none"
        case .failure(let error):
            reply = error.errorResponse(toTag: "t").map { String($0.statusCode) } ?? "none"
        }
        if torture.reply != "-" {
            #expect(reply == torture.reply, "\(torture.name): \((try? outcome.get()).map { _ in "parsed" } ?? "\(outcome)")")
        }
    }
}
