// `holdfast sip answer` and `holdfast sip call`: SIP test phones for any PBX or phone.

import ArgumentParser
import Foundation
import SIP
import SIPMessage
import SIPTools

/// ADDR:PORT as given on the command line.
struct BindAddress: ExpressibleByArgument {
    var host: String
    var port: Int

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        host = String(argument[..<colon])
        self.port = port
    }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

struct AudioOptions: ParsableArguments {
    @Option(help: "Play this WAV file in a loop (any PCM WAV; resampled to 8 kHz mono).")
    var play: String?

    @Option(help: "Send a sine tone of this frequency (Hz) instead of a file.")
    var tone: Double?

    @Option(help: "Record what the far end sends to this WAV file (8 kHz mono 16-bit).")
    var record: String?

    @Flag(help: "Print one JSON object per call on stdout.")
    var json = false

    @Flag(help: "Print the SIP messages sent and received on stderr.")
    var trace = false

    var ends: AudioEnds {
        AudioEnds(play: play.map { URL(fileURLWithPath: $0) }, record: record.map { URL(fileURLWithPath: $0) }, tone: tone)
    }

    var tracer: (@Sendable (SIPTraceEvent) -> Void)? {
        guard trace else { return nil }
        return { event in FileHandle.standardError.write(Data((event.summary + "\n").utf8)) }
    }

    func report(_ summary: CallSummary) {
        FileHandle.standardOutput.write(Data(((json ? summary.json : summary.text) + "\n").utf8))
    }
}

struct SIPAnswer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "answer",
        abstract: "Answer incoming calls (UDP and TCP), play audio, record what is heard, exit after N calls.")

    @Option(help: "Address and port to listen on (UDP and TCP), e.g. 127.0.0.1:5070.")
    var bind: BindAddress

    @Option(help: "How many calls to answer before exiting.")
    var calls = 1

    @OptionGroup var audio: AudioOptions

    func run() async throws {
        var tool = AnswerTool(host: bind.host, port: bind.port, audio: audio.ends, calls: calls)
        tool.trace = audio.tracer
        let audio = self.audio
        do {
            try await tool.run(listening: { port in
                FileHandle.standardError.write(Data("listening on \(bind.host):\(port) (UDP and TCP)\n".utf8))
            }, report: { audio.report($0) })
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

struct SIPCall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Place one call, send DTMF after answer, hang up after a while.")

    @Argument(help: "The SIP URI to call, e.g. sip:2002@127.0.0.1:5060 (;transport=tcp for TCP).")
    var uri: String

    @Option(help: "Local address and port (default 127.0.0.1:0, any free port).")
    var bind = BindAddress(host: "127.0.0.1", port: 0)

    @Option(help: "Digits to send as RFC 4733 events after the call is answered.")
    var dtmf: String?

    @Option(help: "Hang up this many seconds after answer (unless the far end hangs up first).")
    var hangupAfter = 5.0

    @Option(help: "Digest user name, when the server challenges.")
    var user: String?

    @Option(help: "Digest password.")
    var password: String?

    @OptionGroup var audio: AudioOptions

    func run() async throws {
        let target: SIPURI
        do { target = try SIPURI(uri) } catch { throw ValidationError("'\(uri)' is not a SIP URI: \(error.reason)") }
        var tool = CallTool(uri: target, host: bind.host, port: bind.port, audio: audio.ends, dtmf: dtmf,
                            hangupAfter: .milliseconds(Int(hangupAfter * 1000)), username: user, password: password)
        tool.trace = audio.tracer
        let summary: CallSummary
        do { summary = try await tool.run() } catch { throw ValidationError("\(error)") }
        audio.report(summary)
        if summary.error != nil { throw ExitCode(1) }
    }
}

extension BindAddress: CustomStringConvertible {
    var description: String { "\(host):\(port)" }
}
