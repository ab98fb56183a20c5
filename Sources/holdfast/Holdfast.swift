// The holdfast executable: argument parsing and wiring only.

import ArgumentParser

@main
struct Holdfast: AsyncParsableCommand {
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
