// `holdfast demo`: the whole system on one machine, on free loopback ports: a call server, a
// collaboration server (a child process, so it can really die), your phone 2001 (its API and
// token printed), and two bot phones: 2002 answers by itself, plays a tone and echoes DTMF back;
// 2003 rings and can be called. A short tour shows the mission (a call that outlives the
// collaboration server, limited functionality, recovery); then a prompt stops and starts the
// collaboration server so you can watch it live.

import ArgumentParser
import CTI
import CallServer
import Collab
import Foundation
import Hummingbird
import Logging
import Phone
import ServiceLifecycle
import Wire
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole system on 127.0.0.1 (call server, collaboration server, your phone 2001, bot phones 2002 and 2003) and show it working.")

    @Option(help: "Where the demo keeps its data (default: a new temporary folder).")
    var dataDir: String?

    @Flag(help: "Run the tour and exit (0 when every step worked).")
    var tourOnly = false

    @Option(help: "Least severe log messages of the parts: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .error

    func run() async throws {
        bootstrapLogging(logLevel)
        let directory = URL(fileURLWithPath: dataDir ?? FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-demo-\(UUID().uuidString.prefix(8))").path)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ports = DemoPorts()
        say("Holdfast demo: data in \(directory.path)")

        // The call server, with the office's four users.
        var pbxConfiguration = try PBXConfiguration.parse(try String(contentsOf: Self.office("pbx.yaml"), encoding: .utf8), source: "examples/office/pbx.yaml")
        pbxConfiguration.listen.port = ports.sip
        pbxConfiguration.cti.port = ports.cti
        // SIP over TLS too, certified by the demo's own private CA; the phones register over it.
        pbxConfiguration.listen.tls = .init(port: ports.sipTLS)
        let pbx = try await CallServer.start(configuration: pbxConfiguration, dataDirectory: directory.appendingPathComponent("pbx"))
        let cti = try await CTIServer.start(callServer: pbx, host: "127.0.0.1", port: ports.cti, secret: pbxConfiguration.cti.secret)
        say("  call server       SIP udp/tcp 127.0.0.1:\(pbx.sipPort), tls 127.0.0.1:\(pbx.tlsPort ?? 0), CTI http://127.0.0.1:\(cti.port)/cti/v1")

        // The collaboration server, a process of its own.
        let collab = DemoCollab(directory: directory, port: ports.collab, sip: pbx.sipPort, tls: pbx.tlsPort.flatMap { port in pbx.tls.map { (port, $0.caFile) } },
                                cti: cti.port, secret: pbxConfiguration.cti.secret)
        try await collab.start()
        say("  collab server     http://127.0.0.1:\(ports.collab) (pid \(collab.pid))")
        // Stopped by a signal, the demo takes its collaboration server with it.
        Task {
            for await sig in terminationSignals([SIGINT, SIGTERM, SIGHUP]) {
                collab.kill()
                Foundation.exit(128 + sig)
            }
        }

        // The phones.
        let phone = try await DemoPhone.start("2001", directory: directory, collab: ports.collab, api: ports.api, audioIn: "tone:700", autoAnswer: false)
        let brook = try await DemoPhone.start("2002", directory: directory, collab: ports.collab, api: nil, audioIn: "tone:440", autoAnswer: true)
        let cy = try await DemoPhone.start("2003", directory: directory, collab: ports.collab, api: nil, audioIn: "tone:550", autoAnswer: false)
        await brook.core.echoDigits()
        let window = try LocalAPI.writeUIURL(in: phone.directory, host: "127.0.0.1", port: ports.api, token: phone.token)
        say("  your phone 2001   open \(window)")
        say("                    (API http://127.0.0.1:\(ports.api)/api, token \(phone.token))")
        say("  bot phones        2002 answers, plays 440 Hz and echoes DTMF; 2003 rings")

        // The tour calls the bots: they must be registered first (each registers on its own).
        let deadline = Date().addingTimeInterval(20)
        for bot in ["2002", "2003"] {
            while Date() < deadline, await pbx.bindings(for: bot).isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        let tour = Tour(phone: phone.core, collab: collab)
        let passed = await tour.run()
        if tourOnly {
            await shutdown([phone, brook, cy], collab: collab, cti: cti, pbx: pbx)
            if !passed { throw ExitCode.failure }
            return
        }
        say("""

        The system keeps running. Drive your phone with
          holdfast ctl --data-dir \(phone.directory.path) --port \(ports.api) state | call 2002 | hold | retrieve | dtmf 123 | end | try-now
        Type  s + Enter  to stop the collaboration server,  r + Enter  to start it again,  q + Enter  to quit.
        """)
        while let line = readLine() {
            switch line.trimmingCharacters(in: .whitespaces) {
            case "s":
                collab.kill()
                try? await tour.waitFor("limited functionality", seconds: 3) { await tour.mode() == "offline" }
                say("collaboration server killed; your phone: \(await Tour.banner(phone.core))")
            case "r":
                try await collab.start()
                try? await tour.waitFor("online", seconds: 5) { await tour.mode() == "online" }
                say("collaboration server started (pid \(collab.pid)); your phone: \(await Tour.banner(phone.core))")
            case "q":
                await shutdown([phone, brook, cy], collab: collab, cti: cti, pbx: pbx)
                return
            case "":
                say("phone 2001: \(await Tour.banner(phone.core)); calls: \(await phone.core.calls.snapshots().filter { $0.state != .ended }.map { "\($0.remote.number) \($0.state.rawValue)" })")
            default:
                say("s: stop the collaboration server, r: start it, q: quit, Enter: your phone's state")
            }
        }
        await shutdown([phone, brook, cy], collab: collab, cti: cti, pbx: pbx)
    }

    func shutdown(_ phones: [DemoPhone], collab: DemoCollab, cti: CTIServer, pbx: CallServer) async {
        for phone in phones { await phone.stop() }
        collab.kill()
        await cti.shutdown()
        await pbx.shutdown()
    }

    static func office(_ name: String) -> URL {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return here.appendingPathComponent("examples/office/\(name)")
    }
}

/// Free loopback ports for each part.
struct DemoPorts {
    let sip = DemoPorts.free(udpToo: true), sipTLS = DemoPorts.free(), cti = DemoPorts.free(), collab = DemoPorts.free(), api = DemoPorts.free()

    /// A loopback port the kernel calls free for TCP (and, for SIP, free for UDP as well: a port
    /// free for one protocol may be taken in the other, and the call server needs both).
    static func free(udpToo: Bool = false) -> Int {
        for _ in 0..<100 {
            let port = bound(Int32(SOCK_STREAM.rawValue), port: 0)
            if port > 0, !udpToo || bound(Int32(SOCK_DGRAM.rawValue), port: port) == port { return port }
        }
        return 0
    }

    /// Binds a loopback socket of `type` to `port` (0: any), closes it, and returns the port it had (0 on failure).
    private static func bound(_ type: Int32, port: Int) -> Int {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let status = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard status == 0 else { return 0 }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// The collaboration server as a child process (`holdfast collab`), killed and restarted at will.
final class DemoCollab: @unchecked Sendable {
    // @unchecked: used from the demo's one task only.
    let directory: URL
    let port: Int
    let config: URL
    private var process: Process?

    /// `tls`: the call server's TLS port and CA, given to the phones so they register over TLS.
    init(directory: URL, port: Int, sip: Int, tls: (port: Int, ca: URL)?, cti: Int, secret: String) {
        self.directory = directory
        self.port = port
        config = directory.appendingPathComponent("collab.yaml")
        let text = (try? String(contentsOf: Demo.office("collab.yaml"), encoding: .utf8)) ?? ""
        let primary = tls.map { "primary: { host: 127.0.0.1, port: \($0.port), transport: tls }\n  tlsCA: \($0.ca.path)" }
            ?? "primary: { host: 127.0.0.1, port: \(sip) }"
        let adjusted = text
            .replacingOccurrences(of: "port: 8470", with: "port: \(port)")
            .replacingOccurrences(of: "primary: { host: 127.0.0.1, port: 5060 }", with: primary)
            .replacingOccurrences(of: "secondary: { host: 127.0.0.1, port: 5062 }", with: "secondary: null")
            .replacingOccurrences(of: "url: http://127.0.0.1:5080", with: "url: http://127.0.0.1:\(cti)")
        try? adjusted.write(to: config, atomically: true, encoding: .utf8)
    }

    var pid: Int32 { process?.processIdentifier ?? 0 }

    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["collab", "--config", config.path, "--data-dir", directory.appendingPathComponent("collab").path, "--log-level", "error"]
        let log = directory.appendingPathComponent("collab.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        var environment = ProcessInfo.processInfo.environment
        environment[exitWithParentVariable] = String(getpid())
        process.environment = environment
        try process.run()
        self.process = process
        // Ready when it answers /health.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let (_, response) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health")!),
               (response as? HTTPURLResponse)?.statusCode == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("the collaboration server did not start (see \(log.path))")
    }

    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

struct DemoPhone {
    let core: PhoneCore
    let directory: URL
    let token: String
    let api: ServiceGroup?

    static func start(_ user: String, directory: URL, collab: Int, api: Int?, audioIn: String, autoAnswer: Bool) async throws -> DemoPhone {
        var configuration = PhoneConfiguration(user: user, password: "pw\(user)")
        configuration.collab = "http://127.0.0.1:\(collab)"
        configuration.autoAnswer = autoAnswer
        let folder = directory.appendingPathComponent("phone-\(user)")
        let core = try PhoneCore(configuration: configuration, dataDirectory: folder, audio: PhoneAudio(input: audioIn, output: "null"))
        await core.start()
        let token = try LocalAPI.token(in: folder)
        var group: ServiceGroup?
        if let api {
            let app = LocalAPI.application(core: core, token: token, host: "127.0.0.1", port: api)
            let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "holdfast.demo")))
            Task { try await services.run() }
            group = services
        }
        return DemoPhone(core: core, directory: folder, token: token, api: group)
    }

    func stop() async {
        await api?.triggerGracefulShutdown()
        await core.stop()
    }
}

/// The tour: each step printed with what it showed.
struct Tour {
    let phone: PhoneCore
    let collab: DemoCollab

    static func banner(_ phone: PhoneCore) async -> String {
        let state = await phone.state().objectValue ?? [:]
        let mode = state["server"]?.objectValue?["mode"]?.stringValue ?? "?"
        return mode == "online" ? "online, full function" : "\"\(state["banner"]?.stringValue ?? "")\""
    }

    func run() async -> Bool {
        var ok = true
        func step(_ title: String, _ body: () async throws -> String) async {
            say("\n• \(title)")
            do { say("  \(try await body())") } catch {
                ok = false
                say("  FAILED: \(error)")
            }
        }
        await step("Your phone logs in to the collaboration server and registers with the call server") {
            try await waitFor("online and registered", seconds: 20) {
                let online = await self.mode() == "online"
                return online ? await self.registered() : false
            }
            return "online; registered with the primary call server"
        }
        var call = ""
        await step("You call 2002 (a bot that answers and plays 440 Hz)") {
            call = try await phone.calls.place("2002")
            let media = try await waitFor("the call with audio", seconds: 15) { await self.connected(call, packets: 50) }
            return "connected; \(media) RTP packets received so far"
        }
        await step("You press 1 2 3: the bot echoes the digits back (RFC 4733)") {
            try await phone.calls.dtmf(call, "123")
            return try await waitFor("the echo", seconds: 10) {
                let digits = await self.phone.calls.digitsReceived(call)
                return digits.count >= 3 ? "heard back: \(digits)" : nil
            }
        }
        await step("The collaboration server dies (SIGKILL)") {
            let before = await self.packets(call)
            collab.kill()
            try await waitFor("limited functionality", seconds: 5) { await self.mode() == "offline" }
            let after = try await waitFor("audio still flowing", seconds: 5) { let n = await self.packets(call); return n > before + 25 ? n : nil }
            let capabilities = await self.callCapabilities(call)
            return "your phone says \(await Self.banner(phone)); the call goes on (\(after - before) more packets); "
                + "hold \(capabilities["call.hold"] == true ? "available" : "missing"), transfer \(capabilities["call.transfer"] == true ? "available" : "unavailable")"
        }
        await step("Hold and retrieve still work in limited mode") {
            try await phone.calls.hold(call)
            try await phone.calls.retrieve(call)
            return "held, then retrieved"
        }
        await step("The collaboration server comes back: full function returns by itself") {
            try await collab.start()
            try await waitFor("online again", seconds: 20) { await self.mode() == "online" }
            let capabilities = await self.callCapabilities(call)
            return "online; transfer \(capabilities["call.transfer"] == true ? "available" : "still unavailable") again, without touching the phone"
        }
        await step("You hang up") {
            try await phone.calls.end(call)
            return "ended"
        }
        say(ok ? "\nTour complete: the call never depended on the collaboration server." : "\nTour finished with failures (see above).")
        return ok
    }

    struct Timeout: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting for \(what)" }
    }

    @discardableResult
    func waitFor<T>(_ what: String, seconds: Double, _ check: () async -> T?) async throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = await check() { return value }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Timeout(what: what)
    }

    func waitFor(_ what: String, seconds: Double, _ check: () async -> Bool) async throws {
        try await waitFor(what, seconds: seconds) { await check() ? true : nil }
    }

    func mode() async -> String? { await phone.state().objectValue?["server"]?.objectValue?["mode"]?.stringValue }
    func registered() async -> Bool { await phone.state().objectValue?["registration"]?.objectValue?["state"]?.stringValue == "registered" }
    func packets(_ id: String) async -> Int { await phone.calls.snapshots().first { $0.id == id }?.media.packetsReceived ?? 0 }

    func connected(_ id: String, packets: Int) async -> Int? {
        guard let call = await phone.calls.snapshots().first(where: { $0.id == id }), call.state == .connected, call.media.packetsReceived > packets else { return nil }
        return call.media.packetsReceived
    }

    func callCapabilities(_ id: String) async -> [String: Bool] {
        let calls = await phone.state().objectValue?["calls"]?.arrayValue ?? []
        let call = calls.compactMap(\.objectValue).first { $0["id"]?.stringValue == id }
        return (call?["capabilities"]?.objectValue ?? [:]).compactMapValues(\.boolValue)
    }
}

/// Written at once, even into a pipe: a script driving the demo reads each step as it happens.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
