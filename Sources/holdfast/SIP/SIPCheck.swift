// `holdfast sip check`: a linter for SIP messages stored in files.

import ArgumentParser
import Foundation
import SIPMessage

struct SIPCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check SIP messages in files: does each parse, and what would a server answer?",
        discussion: """
        Each file holds one message, read as a datagram (the body is what follows the header \
        section; octets past Content-Length are ignored). Exit status is 0 when every file was \
        read, whatever the verdicts; 1 when a file could not be read.
        """
    )

    @Flag(name: .long, help: "Print one JSON object per file.")
    var json = false

    @Argument(help: "Files holding one SIP message each.")
    var files: [String]

    func run() throws {
        var unreadable = false
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else {
                unreadable = true
                FileHandle.standardError.write(Data("\(path): cannot read the file\n".utf8))
                continue
            }
            let verdict = MessageVerdict(file: path, bytes: Array(data))
            print(json ? verdict.jsonLine() : verdict.textLine())
        }
        if unreadable { throw ExitCode(1) }
    }
}

/// The linter's finding for one message.
struct MessageVerdict: Encodable {
    var file: String
    var valid: Bool
    var kind: String?
    var method: String?
    var status: Int?
    var error: String?
    /// The final response a SIP server would send to this request (nil for responses and for
    /// messages that would be dropped).
    var reply: Int?

    init(file: String, bytes: [UInt8]) {
        self.file = file
        do {
            let message = try SIPParser().parse(bytes)
            valid = true
            switch message {
            case .request(let request):
                kind = "request"
                method = request.method.rawValue
                if let rejection = request.uasRejection() {
                    reply = rejection.statusCode
                    error = rejection.reasonPhrase
                }
            case .response(let response):
                kind = "response"
                status = response.statusCode
            }
        } catch {
            valid = false
            self.error = error.reason
            if let partial = error.partial {
                kind = partial.isRequest ? "request" : "response"
                method = partial.isRequest ? partial.method?.rawValue : nil
            }
            reply = error.errorResponse(toTag: "x")?.statusCode
        }
    }

    func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    func textLine() -> String {
        let what = [kind, method, status.map(String.init)].compactMap { $0 }.joined(separator: " ")
        var line = "\(file): \(valid ? "valid" : "INVALID") \(what)"
        if let error { line += " - \(error)" }
        if let reply { line += " (a server answers \(reply))" }
        return line
    }

    enum CodingKeys: String, CodingKey { case file, valid, kind, method, status, error, reply }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(file, forKey: .file)
        try container.encode(valid, forKey: .valid)
        try container.encode(kind, forKey: .kind)
        try container.encode(method, forKey: .method)
        try container.encode(status, forKey: .status)
        try container.encode(error, forKey: .error)
        try container.encode(reply, forKey: .reply)
    }
}
