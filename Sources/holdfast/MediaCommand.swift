// `holdfast media`: the media services (echo test, music on hold) on a host of their own, for a
// call server whose configuration names it in `media.remote`.

import ArgumentParser
import Foundation
import Logging
import MediaServices

struct MediaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media",
        abstract: "Run the media services (echo test, music on hold) that a call server reaches over SIP.")

    @Option(help: "The configuration file (YAML): host, port, musicOnHold, rtpPorts, maxSessions.")
    var config: String

    @Option(help: "Least severe log messages written to stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        bootstrapLogging(logLevel)
        let configuration = try loadConfiguration { try MediaHostConfiguration.load(URL(fileURLWithPath: config)) }
        let host = try await MediaServiceHost.start(configuration)
        let port = await host.port
        let services = MediaService.allCases.map { "sip:\($0.rawValue)@\(configuration.host):\(port)" }
        FileHandle.standardError.write(Data("media: SIP on \(configuration.host):\(port) (UDP and TCP), services \(services.joined(separator: ", "))\n".utf8))
        for await _ in terminationSignals() { break }
        await host.shutdown()
    }
}
