// `holdfast sip check --json` on the RFC 4475 files gives the verdicts of MANIFEST.tsv.

import TestSupport
import Foundation
import Testing

@Suite struct SIPCheckCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let torture = root.deletingLastPathComponent().appendingPathComponent("shared/testdata/rfc4475")

    @Test func jsonVerdictsMatchTheManifest() async throws {
        let manifest = try String(contentsOf: Self.torture.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8)
        let rows = manifest.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("name\t") }.map { $0.split(separator: "\t").map(String.init) }
        let files = rows.map { Self.torture.appendingPathComponent($0[0] + ".dat").path }
        let binary = Self.root.appendingPathComponent(".build/debug/holdfast").path
        let process = try ExternalProcess(binary, ["sip", "check", "--json"] + files, name: "sip-check")
        let status = try await process.waitForExit(within: 60)
        #expect(status == 0, "exit status is 0 when every file was read")
        let lines = try String(contentsOf: process.outputURL, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == rows.count)
        for (row, line) in zip(rows, lines) {
            let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            let name = row[0], verdict = row[2], reply = row[3]
            #expect((object["file"] as? String)?.hasSuffix(name + ".dat") == true)
            let valid = object["valid"] as? Bool
            switch verdict {
            case "valid": #expect(valid == true, "\(name) must parse: \(line)")
            case "invalid":
                #expect(valid == false, "\(name) must be rejected: \(line)")
                #expect(!((object["error"] as? String) ?? "").isEmpty, "\(name) needs a reason")
            default: break
            }
            let kind = object["kind"] as? String
            switch reply {
            case "-": break
            case "none": #expect(object["reply"] is NSNull, "\(name) is a response or dropped: \(line)")
            default:
                #expect(kind == "request")
                #expect((object["reply"] as? Int).map(String.init) == reply, "\(name) reply: \(line)")
            }
        }
    }

    @Test func unreadableFileExitsNonZero() async throws {
        let binary = Self.root.appendingPathComponent(".build/debug/holdfast").path
        let process = try ExternalProcess(binary, ["sip", "check", "/nonexistent/file.sip"], name: "sip-check-missing")
        #expect(try await process.waitForExit(within: 60) != 0)
        #expect(process.outputTail().contains("cannot read the file"))
    }

    @Test func theDemoTourShowsACallOutlivingTheCollaborationServer() async throws {
        let binary = Self.root.appendingPathComponent(".build/debug/holdfast").path
        let process = try ExternalProcess(binary, ["demo", "--tour-only"], name: "demo")
        #expect(try await process.waitForExit(within: 120) == 0, "demo failed:\n\(process.outputTail())")
        let output = process.outputTail(100_000)
        #expect(output.contains("heard back: 123"), "the bot echoed the digits")
        #expect(output.contains("your phone says \"Connection Lost - Limited Functionality\"; the call goes on"))
        #expect(output.contains("hold available, transfer unavailable"))
        #expect(output.contains("online; transfer available again"))
        #expect(output.contains("Tour complete"))
        #expect(!output.contains("FAILED"))
    }
}
