// Micro-benchmarks for the SIP stack, run by scripts/bench (release build, one core).

import Foundation
import SIPMessage

struct Figure: Encodable {
    var name: String
    var value: Double
    var unit: String
    var goal: String
}

let benchSeconds = Double(ProcessInfo.processInfo.environment["HOLDFAST_BENCH_SECONDS"] ?? "") ?? 2.0

enum Samples {
    static let invite = """
    INVITE sip:2002@127.0.0.1 SIP/2.0\r
    Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport\r
    Max-Forwards: 70\r
    To: "Brook Taylor" <sip:2002@127.0.0.1>\r
    From: "Ada Lovelace" <sip:2001@127.0.0.1>;tag=1928301774\r
    Call-ID: a84b4c76e66710@127.0.0.1\r
    CSeq: 314159 INVITE\r
    Contact: <sip:2001@127.0.0.1:5070;transport=udp>\r
    Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY\r
    Supported: replaces, norefersub\r
    User-Agent: Holdfast\r
    Content-Type: application/sdp\r
    Content-Length: 197\r
    \r
    v=0\r
    o=ada 2890844526 2890844526 IN IP4 127.0.0.1\r
    s=-\r
    c=IN IP4 127.0.0.1\r
    t=0 0\r
    m=audio 49170 RTP/AVP 0 8 101\r
    a=rtpmap:0 PCMU/8000\r
    a=rtpmap:8 PCMA/8000\r
    a=rtpmap:101 telephone-event/8000\r
    a=fmtp:101 0-16\r
    a=sendrecv\r

    """

    static let ok = """
    SIP/2.0 200 OK\r
    Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport=5070;received=127.0.0.1\r
    To: "Brook Taylor" <sip:2002@127.0.0.1>;tag=a6c85cf\r
    From: "Ada Lovelace" <sip:2001@127.0.0.1>;tag=1928301774\r
    Call-ID: a84b4c76e66710@127.0.0.1\r
    CSeq: 314159 INVITE\r
    Contact: <sip:2002@127.0.0.1:5080>\r
    Content-Length: 0\r
    \r

    """

    static let register = """
    REGISTER sip:127.0.0.1 SIP/2.0\r
    Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnashds7;rport\r
    Max-Forwards: 70\r
    To: <sip:2001@127.0.0.1>\r
    From: <sip:2001@127.0.0.1>;tag=456248\r
    Call-ID: 843817637684230@998sdasdh09\r
    CSeq: 1826 REGISTER\r
    Contact: <sip:2001@127.0.0.1:5070>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1\r
    Authorization: Digest username="2001", realm="127.0.0.1", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:127.0.0.1", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001\r
    Expires: 3600\r
    Content-Length: 0\r
    \r

    """
}

func measure(_ name: String, bytes: [UInt8], seconds: Double = benchSeconds) -> Figure {
    let parser = SIPParser()
    var count = 0
    var sink = 0
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start.advanced(by: .milliseconds(Int(seconds * 1000)))
    while clock.now < deadline {
        for _ in 0..<1000 {
            if let message = try? parser.parse(bytes) { sink &+= message.headers.count }
        }
        count += 1000
    }
    let elapsed = clock.now - start
    let perSecond = Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    precondition(sink > 0, "the sample \(name) did not parse")
    return Figure(name: name, value: perSecond.rounded(), unit: "parses/s", goal: name.contains("INVITE") ? "≥ 200000" : "-")
}

let arguments = CommandLine.arguments.dropFirst()
var jsonPath: String?
// Positional arguments name suites (parser, media); none means all.
var suites = Set<String>()
var skipNext = false
for argument in arguments {
    if skipNext { skipNext = false; continue }
    if argument == "--json" { skipNext = true; continue }
    suites.insert(argument)
}
if let index = arguments.firstIndex(of: "--json"), arguments.index(after: index) < arguments.endIndex {
    jsonPath = arguments[arguments.index(after: index)]
}

// `conference --port P --pid PID --rooms 10,25 [--first 6000] [--seconds 10]`: load on a media host.
if arguments.first == "conference" {
    func option(_ name: String) -> String? {
        guard let index = arguments.firstIndex(of: name), arguments.index(after: index) < arguments.endIndex else { return nil }
        return arguments[arguments.index(after: index)]
    }
    guard let port = option("--port").flatMap(Int.init), let pid = option("--pid").flatMap(Int32.init) else {
        FileHandle.standardError.write(Data("conference needs --port (the media host's SIP port) and --pid (its process)\n".utf8))
        exit(2)
    }
    let steps = (option("--rooms") ?? "10,25,50").split(separator: ",").compactMap { Int($0) }
    let figures = try await ConferenceLoad.run(host: "127.0.0.1", port: port, pid: pid, steps: steps,
                                               firstRoom: option("--first").flatMap(Int.init) ?? 6000, seconds: option("--seconds").flatMap(Double.init) ?? 10)
    for figure in figures { print("\(figure.name): \(figure.value) \(figure.unit) (goal \(figure.goal))") }
    if let path = option("--json") { try JSONEncoder().encode(["figures": figures]).write(to: URL(fileURLWithPath: path)) }
    exit(0)
}

if ProcessInfo.processInfo.environment["HOLDFAST_BENCH_ONLY"] == "invite" {
    print(measure("parse INVITE with SDP", bytes: Array(Samples.invite.utf8)).value)
    exit(0)
}

var figures: [Figure] = []
if suites.isEmpty || suites.contains("parser") {
    figures += [
        measure("parse INVITE with SDP", bytes: Array(Samples.invite.utf8)),
        measure("parse 200 OK", bytes: Array(Samples.ok.utf8)),
        measure("parse REGISTER with Authorization", bytes: Array(Samples.register.utf8)),
    ]
    let message = try SIPParser().parse(Samples.invite)
    var count = 0
    let clock = ContinuousClock()
    let start = clock.now
    var sink = 0
    while clock.now - start < .milliseconds(Int(benchSeconds * 1000)) {
        for _ in 0..<1000 { sink &+= message.serialized().count }
        count += 1000
    }
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    precondition(sink > 0)
    figures.append(Figure(name: "serialize INVITE with SDP", value: (Double(count) / seconds).rounded(), unit: "messages/s", goal: "-"))
}
if suites.isEmpty || suites.contains("media") {
    figures += MediaBench.mixer()
    figures += ConferenceBench.mix()
    figures += try await MediaBench.streams(100, seconds: max(5, benchSeconds * 5))
}

print(String(repeating: "-", count: 72))
print("benchmark".padding(toLength: 56, withPad: " ", startingAt: 0) + "value".padding(toLength: 20, withPad: " ", startingAt: 0) + "goal")
for figure in figures {
    let number = figure.value < 10 && figure.value != figure.value.rounded() ? String(format: "%.2f", figure.value) : String(Int(figure.value))
    let value = "\(number) \(figure.unit)"
    print(figure.name.padding(toLength: 56, withPad: " ", startingAt: 0) + value.padding(toLength: 24, withPad: " ", startingAt: 0) + figure.goal)
}
if let jsonPath {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(["figures": figures]).write(to: URL(fileURLWithPath: jsonPath))
}
