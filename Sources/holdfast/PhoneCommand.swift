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
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let configuration: PhoneConfiguration
        do { configuration = try PhoneConfiguration.load(URL(fileURLWithPath: config)) } catch { throw ValidationError("\(error)") }
        let directory = URL(fileURLWithPath: dataDir)
        let core = try PhoneCore(configuration: configuration, dataDirectory: directory, audio: PhoneAudio(input: audioIn, output: audioOut))
        let token = try LocalAPI.token(in: directory)
        let app = LocalAPI.application(core: core, token: token, host: configuration.api.host, port: configuration.api.port) { port in
            FileHandle.standardError.write(Data("phone: \(configuration.user) API on http://\(configuration.api.host):\(port)/api (token in \(directory.path)/api-token), collaboration server \(configuration.collab)\n".utf8))
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
        abstract: "Drive a running phone through its local API: state, try-now, logout.")

    @Option(help: "The phone's data directory (for its API token).")
    var dataDir: String

    @Option(help: "The phone's API port.")
    var port: Int = 8501

    @Argument(help: "state | try-now | logout")
    var command: String

    func run() async throws {
        let token = try String(contentsOf: URL(fileURLWithPath: dataDir).appendingPathComponent("api-token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let (method, path) = switch command {
        case "state": ("GET", "state")
        case "try-now": ("POST", "server/reconnect")
        case "logout": ("POST", "logout")
        default: throw ValidationError("unknown command \(command): state, try-now or logout")
        }
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/\(path)")!)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        print(String(decoding: data, as: UTF8.self))
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        if !(200..<300).contains(status) { throw ExitCode(1) }
    }
}
