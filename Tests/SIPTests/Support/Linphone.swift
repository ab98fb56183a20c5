// linphone (Debian's linphone-cli: linphonec on liblinphone 5) as a phone registered with the call
// server, driven through its standard input, sending a tone and recording what it hears.

import Audio
import Foundation
import TestSupport

struct Linphone {
    let number: String
    let directory: URL
    let process: ExternalProcess
    let heard: URL

    /// Starts linphonec as `number` registered over `transport` (udp, tcp, or tls trusting
    /// `rootCA`) with the call server on `pbxPort`, sending a `frequency` Hz tone, answering by
    /// itself when `autoAnswer`.
    static func start(_ number: String, pbxPort: Int, transport: String = "udp", rootCA: URL? = nil, frequency: Double, autoAnswer: Bool = false,
                      mediaEncryption: String? = nil) throws -> Linphone {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("holdfast-linphone-\(number)-\(UUID().uuidString.prefix(8))")
        // liblinphone does not start at all without the folder of its database.
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("home/.local/share/linphone"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("run"), withIntermediateDirectories: true)
        let sipPort = ExternalProcess.freePort()
        let rtpPort = ExternalProcess.freePort()
        var tone = ToneSource(frequency: frequency)
        let play = directory.appendingPathComponent("tone.wav")
        try WAV.write((0..<1500).flatMap { _ in tone.nextFrame() }, to: play)
        let config = directory.appendingPathComponent("linphonerc")
        try Self.configuration(number: number, pbxPort: pbxPort, transport: transport, rootCA: rootCA, sipPort: sipPort, rtpPort: rtpPort,
                               mediaEncryption: mediaEncryption)
            .write(to: config, atomically: true, encoding: .utf8)
        let process = try ExternalProcess("linphonec", ["-c", config.path, "-d", "6", "-l", directory.appendingPathComponent("linphone.log").path] + (autoAnswer ? ["-a"] : []),
                                          name: "linphone-\(number)", workingDirectory: directory,
                                          environment: ["HOME": directory.appendingPathComponent("home").path,
                                                        "XDG_RUNTIME_DIR": directory.appendingPathComponent("run").path],
                                          takesInput: true)
        let heard = directory.appendingPathComponent("heard.wav")
        process.send("soundcard use files")
        process.send("play \(play.path)")
        process.send("record \(heard.path)")
        return Linphone(number: number, directory: directory, process: process, heard: heard)
    }

    /// The linphonerc: one transport, PCMU only (every codec liblinphone knows must be listed, or
    /// it comes back enabled), IPv6 off for good (with only loopback, liblinphone otherwise finds
    /// the network "down" after a few seconds and drops its registration).
    static func configuration(number: String, pbxPort: Int, transport: String, rootCA: URL? = nil, sipPort: Int, rtpPort: Int,
                              mediaEncryption: String? = nil) -> String {
        let codecs: [(String, Int, Int, Bool)] = [
            ("opus", 48000, 2, false), ("PCMU", 8000, 1, true), ("speex", 16000, 1, false), ("speex", 8000, 1, false), ("PCMA", 8000, 1, false),
            ("GSM", 8000, 1, false), ("G722", 8000, 1, false), ("G729", 8000, 1, false), ("speex", 32000, 1, false), ("G726-16", 8000, 1, false),
            ("G726-24", 8000, 1, false), ("G726-32", 8000, 1, false), ("G726-40", 8000, 1, false), ("AAL2-G726-16", 8000, 1, false),
            ("AAL2-G726-24", 8000, 1, false), ("AAL2-G726-32", 8000, 1, false), ("AAL2-G726-40", 8000, 1, false), ("L16", 44100, 2, false), ("L16", 44100, 1, false),
        ]
        let codecSections = codecs.enumerated().map { index, codec in
            "[audio_codec_\(index)]\nmime=\(codec.0)\nrate=\(codec.1)\nchannels=\(codec.2)\nenabled=\(codec.3 ? 1 : 0)\n"
        }.joined(separator: "\n")
        return """
        [sip]
        sip_port=\(transport == "udp" ? sipPort : 0)
        sip_tcp_port=\(transport == "tcp" ? sipPort : 0)
        sip_tls_port=\(transport == "tls" ? sipPort : 0)
        \(rootCA.map { "root_ca=\($0.path)\nverify_server_certs=1\nverify_server_cn=1" } ?? "")
        \(mediaEncryption.map { "media_encryption=\($0)\nmedia_encryption_mandatory=1" } ?? "")
        bind_address=127.0.0.1
        use_ipv6=0
        ipv6_migration_done=1
        default_proxy=0
        register_only_when_network_is_up=0
        guess_hostname=1
        inc_timeout=60
        sip_update=0

        [misc]
        uuid=00000000-0000-4000-8000-00000000\(number)

        [net]
        firewall_policy=0

        [rtp]
        audio_rtp_port=\(rtpPort)
        video_rtp_port=\(rtpPort + 2)
        text_rtp_port=\(rtpPort + 3)
        disable_upnp=1

        [sound]
        echocancellation=0
        echolimiter=0
        agc=0

        [video]
        capture=0
        display=0
        automatically_initiate=0
        automatically_accept=0

        [proxy_0]
        reg_proxy=<sip:127.0.0.1:\(pbxPort);transport=\(transport)>
        reg_route=<sip:127.0.0.1:\(pbxPort);transport=\(transport)>
        reg_identity=sip:\(number)@127.0.0.1
        reg_expires=600
        reg_sendregister=1
        publish=0
        dial_escape_plus=0

        [auth_info_0]
        username=\(number)
        passwd=pw\(number)
        realm=127.0.0.1
        domain=127.0.0.1

        \(codecSections)
        [video_codec_0]
        mime=VP8
        rate=90000
        enabled=0

        """
    }

    /// Sends a command line to linphonec.
    func command(_ line: String) { process.send(line) }

    /// Waits for the `count`-th time linphonec prints `text` (it prints each event as it happens).
    func waitFor(_ text: String, count: Int = 1, within seconds: Double = 15) async throws {
        try await process.waitForOutput(text, count: count, within: seconds, "linphone \(number) to print '\(text)' (\(count))")
    }

    /// The id linphonec gave the `count`-th call it announced ("assigned id N").
    func callID(_ count: Int = 1) throws -> Int {
        let text = (try? String(contentsOf: process.outputURL, encoding: .utf8)) ?? ""
        let ids = text.components(separatedBy: "assigned id ").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
        guard ids.count >= count else { throw ProcessFailure(description: "linphone \(number) announced \(ids.count) calls, not \(count): \(process.outputTail())") }
        return ids[count - 1]
    }

    /// Records from now on into a new file (what it heard so far stays in the old one).
    func recordAnew(_ name: String) -> URL {
        let url = directory.appendingPathComponent(name)
        command("record \(url.path)")
        return url
    }

    /// Hangs up whatever is left, unregisters and exits.
    func stop() async {
        command("quit")
        _ = try? await process.waitForExit(within: 10)
    }
}
