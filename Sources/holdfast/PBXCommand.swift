// `holdfast pbx`: the call server.

import ArgumentParser
import CTI
import CallServer
import Foundation
import TLSFiles
import Logging
import Standby

struct PBXCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pbx",
        abstract: "Run the call server (registrar and B2BUA) from a YAML configuration.")

    @Option(help: "The configuration file (YAML), e.g. examples/office/pbx.yaml.")
    var config: String

    @Option(help: "Where durable state goes (features, CDR log); created if missing.")
    var dataDir: String

    @Option(help: "Least severe log messages written to stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        bootstrapLogging(logLevel)
        let configuration = try loadConfiguration { try PBXConfiguration.load(URL(fileURLWithPath: config)) }
        let server = try await CallServer.start(configuration: configuration, dataDirectory: URL(fileURLWithPath: dataDir))
        let cti: CTIServer
        do {
            cti = try await CTIServer.start(callServer: server, host: configuration.cti.host, port: configuration.cti.port, secret: configuration.cti.secret)
        } catch {
            await server.shutdown()
            throw ValidationError("CTI could not listen on \(configuration.cti.host):\(configuration.cti.port): \(error)")
        }
        // A secondary copies the primary's feature state for as long as it runs.
        var replica: Task<Void, Never>?
        if configuration.follows != nil {
            let follower = try FeatureReplica(server: server, configuration: configuration)
            replica = Task { await follower.run() }
        }
        let role = configuration.follows.map { ", secondary following \($0.cti)" } ?? ""
        // TLS: where, and what a phone pins or trusts.
        let tls = try server.tls.map { files in
            ", TLS on \(server.tlsPort ?? 0) (certificate \(try TLSContexts.fingerprint(ofPEMFile: files.certificateFile.path)), CA \(files.caFile.path))"
        } ?? ""
        FileHandle.standardError.write(Data("pbx: SIP on \(configuration.listen.host):\(server.sipPort) (UDP and TCP)\(tls), CTI on http://\(configuration.cti.host):\(cti.port)/cti/v1, domain \(configuration.domain), \(configuration.users.count) users\(role)\n".utf8))
        // Run until SIGTERM/SIGINT.
        for await _ in terminationSignals() { break }
        replica?.cancel()
        await cti.shutdown()
        await server.shutdown()
    }
}

/// SIGINT and SIGTERM (or `signals`) as a stream (the sources live as long as the stream).
func terminationSignals(_ signals: [Int32] = [SIGINT, SIGTERM]) -> AsyncStream<Int32> {
    AsyncStream<Int32> { continuation in
        let sources = signals.map { sig -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig)
            source.setEventHandler { continuation.yield(sig) }
            source.resume()
            return source
        }
        nonisolated(unsafe) let keep = sources
        continuation.onTermination = { _ in keep.forEach { $0.cancel() } }
    }
}

