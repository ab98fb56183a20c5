// `holdfast phone`: the softphone's core and its local API; `holdfast ctl`: drive a running phone.

import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Phone
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct PhoneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phone",
        abstract: "Run the softphone: logs in to the collaboration server, registers with the call server, serves its local API.")

    @Option(help: "The configuration file (YAML), e.g. examples/office/phone-2001.yaml.")
    var config: String

    @Option(help: "Where the phone keeps its cache and API token; created if missing.")
    var dataDir: String

    @Option(help: "Microphone: file:PATH (a WAV, looped), tone:HZ, or null (silence).")
    var audioIn = "null"

    @Option(help: "Speaker: file:PATH (a WAV per call), or null.")
    var audioOut = "null"

    @Option(help: "Least severe log messages written to stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        for (name, value) in [("--audio-in", audioIn), ("--audio-out", audioOut)] {
            let ok = value == "null" || value.hasPrefix("file:") || (name == "--audio-in" && value.hasPrefix("tone:") && Double(value.dropFirst(5)) != nil)
            guard ok else { throw ValidationError("\(name) \(value): expected file:PATH\(name == "--audio-in" ? ", tone:HZ" : "") or null") }
        }
    }

    func run() async throws {
        bootstrapLogging(logLevel)
        let configuration = try loadConfiguration { try PhoneConfiguration.load(URL(fileURLWithPath: config)) }
        let directory = URL(fileURLWithPath: dataDir)
        let core = try PhoneCore(configuration: configuration, dataDirectory: directory, audio: PhoneAudio(input: audioIn, output: audioOut))
        let token = try LocalAPI.token(in: directory)
        let app = LocalAPI.application(core: core, token: token, host: configuration.api.host, port: configuration.api.port) { port in
            // The window's address with its token goes to a 0600 file, never to the log.
            _ = try? LocalAPI.writeUIURL(in: directory, host: configuration.api.host, port: port, token: token)
            FileHandle.standardError.write(Data("phone: \(configuration.user) API on http://\(configuration.api.host):\(port)/api (token in \(directory.path)/api-token), collaboration server \(configuration.collab)\nphone: window http://\(configuration.api.host):\(port)/ (open the address in \(directory.path)/ui-url, which carries the token)\n".utf8))
        }
        await core.start()
        try await app.runService()
        FileHandle.standardError.write(Data("phone: stopping (unregistering)\n".utf8))
        await core.stop()
    }
}

struct CtlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Drive a running phone through its local API.",
        discussion: """
        Commands: state | call NUMBER | answer [ID] | hold [ID] | retrieve [ID] | mute [ID] | unmute [ID] |
        dtmf DIGITS [ID] | end [ID] | transfer NUMBER [ID] | try-now | logout.
        Without ID, the call the command applies to: the ringing one to answer, the connected one to hold,
        the held one to retrieve, else the first one not ended. The reply is the API's JSON.
        """)

    @Option(help: "The phone's data directory (for its API token).")
    var dataDir: String

    @Option(help: "The phone's API port.")
    var port: Int = 8501

    @Argument(help: "The command and its arguments.")
    var words: [String]

    func run() async throws {
        let token = try String(contentsOf: URL(fileURLWithPath: dataDir).appendingPathComponent("api-token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let api = PhoneAPIClient(port: port, token: token)
        guard let command = words.first else { throw ValidationError("name a command: state, call, answer, hold, …") }
        let rest = Array(words.dropFirst())
        let reply: (Int, String)
        switch command {
        case "state": reply = try await api.send("GET", "state")
        case "try-now": reply = try await api.send("POST", "server/reconnect")
        case "logout": reply = try await api.send("POST", "logout")
        case "call":
            guard let number = rest.first else { throw ValidationError("call NUMBER") }
            reply = try await api.send("POST", "calls", ["to": number])
        case "answer", "hold", "retrieve", "mute", "unmute", "end":
            let preferred: [String: String] = ["answer": "ringing", "hold": "connected", "retrieve": "held"]
            let id = if let given = rest.first { given } else { try await api.callID(preferring: preferred[command]) }
            reply = try await api.send("POST", "calls/\(id)/\(command)")
        case "dtmf", "transfer":
            guard let value = rest.first else { throw ValidationError("\(command) \(command == "dtmf" ? "DIGITS" : "NUMBER") [ID]") }
            let id = if let given = rest.dropFirst().first { given } else { try await api.callID(preferring: "connected") }
            reply = try await api.send("POST", "calls/\(id)/\(command)", command == "dtmf" ? ["digits": value] : ["to": value])
        default:
            throw ValidationError("unknown command \(command)")
        }
        print(reply.1)
        if !(200..<300).contains(reply.0) { throw ExitCode(1) }
    }
}

/// JSON requests to a phone's local API with its token.
struct PhoneAPIClient {
    let port: Int
    let token: String

    func send(_ method: String, _ path: String, _ body: [String: String]? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/\(path)")!)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = try JSONEncoder().encode(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The call a command without an id means: one in `state` if any, else the first not ended.
    func callID(preferring state: String?) async throws -> String {
        let (_, text) = try await send("GET", "state")
        let calls = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["calls"] as? [[String: Any]] ?? []
        let live = calls.filter { ($0["state"] as? String) != "ended" }
        let chosen = live.first { ($0["state"] as? String) == state } ?? live.first
        guard let id = chosen?["id"] as? String else { throw ValidationError("the phone has no call for that") }
        return id
    }
}
