// Running third-party programs (SIPp, later baresip and Kamailio) from tests, with bounded waits.

import Foundation
import Synchronization
import TestSupport

struct ProcessFailure: Error, CustomStringConvertible {
    let description: String
}

/// A program started by a test; its output goes to files so nothing blocks on a full pipe.
final class ExternalProcess: @unchecked Sendable {
    // @unchecked: `process` is configured before launch and only read afterwards; the exit
    // status arrives through the continuation set up before launch.
    let name: String
    let process = Process()
    let outputURL: URL
    let exit: Task<Int32, Never>
    /// The program's standard input, when it takes commands there (`send`).
    let input: Pipe?

    /// `environment` adds to (or overrides) this process's environment; `takesInput` gives it a
    /// standard input to `send` lines to (otherwise it reads nothing).
    init(_ executable: String, _ arguments: [String], name: String? = nil, workingDirectory: URL? = nil,
         environment: [String: String] = [:], takesInput: Bool = false) throws {
        guard let path = ExternalProcess.find(executable) else {
            throw ProcessFailure(description: "\(executable) is not installed: \(ExternalProcess.installHint(executable))")
        }
        self.name = name ?? executable
        let directory = workingDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        outputURL = directory.appendingPathComponent("\(self.name).log")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = output
        process.standardError = output
        input = takesInput ? Pipe() : nil
        process.standardInput = input ?? FileHandle.nullDevice
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        process.terminationHandler = { process in
            continuation.yield(process.terminationStatus)
            continuation.finish()
        }
        exit = Task {
            for await status in stream { return status }
            return -1
        }
        try process.run()
        Self.running.withLock { $0[ObjectIdentifier(self)] = process.processIdentifier }
        _ = Self.killAllAtExit
    }

    /// A test that throws or fails an assertion before stopping what it started still stops it:
    /// the process is killed when the test lets go of it, and whatever is left when the test
    /// runner exits is killed then.
    deinit {
        Self.running.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(self)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    private static let running = Mutex<[ObjectIdentifier: Int32]>([:])
    private static let killAllAtExit: Void = {
        atexit {
            for pid in ExternalProcess.running.withLock({ Array($0.values) }) { kill(pid, SIGKILL) }
        }
    }()

    /// The Debian package that provides `executable`, from the one list the test command installs
    /// (scripts/packages).
    static func installHint(_ executable: String) -> String {
        let list = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/packages")
        let text = (try? String(contentsOf: list, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"")).split(separator: " ")
            if fields.count == 2, fields[0] == executable { return "apt-get install \(fields[1]) (scripts/packages install adds every package the tests need)" }
        }
        return "scripts/packages check names the Debian packages the tests need"
    }

    var workingDirectory: URL { outputURL.deletingLastPathComponent() }

    /// Writes one line to the program's standard input (see `takesInput`).
    func send(_ line: String) {
        guard let input, process.isRunning else { return }
        try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// How many times `text` appears in the output so far (a program that prints the same line
    /// once per event: wait for the next one with `waitForOutput(text, count:)`).
    func occurrences(of text: String) -> Int {
        let all = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        return all.components(separatedBy: text).count - 1
    }

    /// Waits for the program to exit; kills it and fails after `seconds`.
    @discardableResult
    func waitForExit(within seconds: Double) async throws -> Int32 {
        let exit = self.exit
        do {
            // Awaiting the exit task alone would not end at the deadline (a task's value ignores
            // cancellation, and the timeout's group waits for it): the wait is on the process.
            return try await withTimeout(seconds, "\(name) to exit") {
                while self.process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
                return await exit.value
            }
        } catch {
            terminate()
            throw ProcessFailure(description: "\(name) did not finish within \(seconds) s; output:\n\(outputTail())")
        }
    }

    /// Waits until the program's output contains `text` (how our servers say they are ready);
    /// fails at once if it exits first.
    func waitForOutput(_ text: String, count: Int = 1, within seconds: Double = 20, _ what: String) async throws {
        try await withTimeout(seconds, what) {
            while count == 1 ? !self.outputTail().contains(text) : self.occurrences(of: text) < count {
                guard self.process.isRunning else { throw ProcessFailure(description: "\(self.name) exited: \(self.outputTail())") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    func terminate() {
        guard process.isRunning else { return }
        process.terminate()
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 2) { kill(pid, SIGKILL) }
    }

    func outputTail(_ bytes: Int = 4000) -> String {
        let text = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        return String(text.suffix(bytes))
    }

    static func find(_ executable: String) -> String? {
        if executable.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: executable) ? executable : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let directories: [String] = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        for directory in directories {
            let candidate = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// A loopback port that is free for both UDP and TCP (SIP programs listen on both), taken below
    /// the kernel's ephemeral range so no outgoing connection grabs it meanwhile. Ports are handed
    /// out in blocks of four from a per-process starting point, never twice in one run: two tests
    /// running at once cannot pick the same port, one cannot take the port of a server another test
    /// has killed and is about to restart, and the neighbours programs take for themselves (baresip's
    /// TLS listener on port + 1, SIPp's RTCP on its media port + 1) stay with the same test.
    static func freePort() -> Int {
        for _ in 0..<(portRange.count / portBlock) {
            let port = nextPort.withLock { next -> Int in
                let port = next
                next = next + portBlock >= portRange.upperBound ? portRange.lowerBound : next + portBlock
                return port
            }
            let block = port..<(port + portBlock)
            if block.allSatisfy({ canBind($0, type: Int32(SOCK_DGRAM.rawValue)) && canBind($0, type: Int32(SOCK_STREAM.rawValue)) }) {
                return port
            }
        }
        fatalError("no block of loopback ports free for UDP and TCP in \(portRange)")
    }

    private static let portRange = 20_000..<32_000
    private static let portBlock = 4
    private static let nextPort = Mutex<Int>(20_000 + (Int(getpid()) * portBlock) % 12_000)

    private static func canBind(_ port: Int, type: Int32) -> Bool {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// SIPp runs of the scenarios in Tests/SIPTests/sipp.
enum SIPp {
    static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("sipp")
    /// The benchmark's scenarios (scripts/sipp), for the ones a test shares with it.
    static let scriptScenarios = scenarios.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/sipp")

    /// Starts SIPp with a scenario (under Tests/SIPTests/sipp, or `from` another folder) against
    /// `remote` (nil for a UAS waiting on `localPort`).
    static func start(
        _ scenario: String, from folder: URL = scenarios, remote: String?, localPort: Int, transport: String = "u1", service: String = "service",
        extra: [String] = [], calls: Int = 1, localIP: String = "127.0.0.1"
    ) throws -> ExternalProcess {
        var arguments = ["-sf", folder.appendingPathComponent(scenario).path,
                         "-i", localIP, "-p", String(localPort), "-t", transport,
                         "-m", String(calls), "-s", service,
                         "-timeout", "20s", "-timeout_error", "-max_recv_loops", "1000",
                         "-trace_err", "-trace_msg", "-nostdin", "-bg"]
        arguments.removeLast()  // run in the foreground so the exit status is SIPp's verdict
        arguments += extra
        if let remote { arguments.append(remote) }
        return try ExternalProcess("sipp", arguments, name: "sipp-\(scenario)")
    }

    /// Registers `user` (password pw + user) with the call server on `pbxPort`, with a Contact at
    /// a SIPp UAS listening on `uasPort`, and waits until the registration succeeded.
    static func registerCallee(_ user: String, pbxPort: Int, uasPort: Int, localIP: String = "127.0.0.1") async throws {
        let registration = try start("bench_register_callee.xml", from: scriptScenarios, remote: "127.0.0.1:\(pbxPort)",
                                     localPort: ExternalProcess.freePort(), service: user,
                                     extra: ["-au", user, "-ap", "pw\(user)", "-set", "uasport", String(uasPort)], localIP: localIP)
        try await expectSuccess(registration)
    }

    /// Waits for SIPp; fails with its message trace when any call failed.
    static func expectSuccess(_ process: ExternalProcess, within seconds: Double = 30) async throws {
        let status = try await process.waitForExit(within: seconds)
        guard status == 0 else {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: process.workingDirectory.path)) ?? []
            var traces = ""
            for file in files where file.hasSuffix("_errors.log") || file.hasSuffix("_messages.log") {
                traces += "--- \(file)\n" + ((try? String(contentsOfFile: process.workingDirectory.appendingPathComponent(file).path, encoding: .utf8)) ?? "").suffix(6000)
            }
            throw ProcessFailure(description: "SIPp \(process.name) exited \(status)\n\(process.outputTail())\n\(traces)")
        }
    }
}
