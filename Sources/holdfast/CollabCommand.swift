// `holdfast collab`: the collaboration server.

import ArgumentParser
import Collab
import Foundation
import Hummingbird
import Logging

struct CollabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collab",
        abstract: "Run the collaboration server (accounts, phone sessions, presence, chat, history) from a YAML configuration.")

    @Option(help: "The configuration file (YAML), e.g. examples/office/collab.yaml.")
    var config: String

    @Option(help: "Where durable state goes (accounts, chat, contacts, history, recordings); created if missing.")
    var dataDir: String

    @Option(help: "Least severe log messages written to stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        bootstrapLogging(logLevel)
        let configuration = try loadConfiguration { try CollabConfiguration.load(URL(fileURLWithPath: config)) }
        let core = try CollabCore(configuration: configuration, dataDirectory: URL(fileURLWithPath: dataDir))
        let listen = configuration.listen
        exitWithParent()
        let app = CollabServer.application(core: core) { port in
            FileHandle.standardError.write(Data("collab: http://\(listen.host):\(port) (phones: /api/v1), call server CTI \(configuration.callServer.cti.url), \(configuration.users.count) users\n".utf8))
        }
        // SIGTERM and SIGINT end it gracefully (the application's service group handles them).
        try await app.runService()
    }
}
