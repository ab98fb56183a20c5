// The holdfast executable: argument parsing and wiring only.

import ArgumentParser
import Foundation

@main
struct Holdfast: AsyncParsableCommand {
    /// Everything the programs write (databases, journals, recordings, caches, tokens) is the
    /// owner's alone, whatever the shell's umask.
    static func main() async {
        umask(0o077)
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "holdfast",
        abstract: "Holdfast unified communications: softphone, call server and collaboration server.",
        subcommands: [Demo.self, PBXCommand.self, MediaCommand.self, CollabCommand.self, PhoneCommand.self, CtlCommand.self, SIPCommand.self]
    )
}

struct SIPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sip",
        abstract: "SIP tools for testing any SIP server or phone.",
        subcommands: [SIPCheck.self, SIPAnswer.self, SIPCall.self]
    )
}
