// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Holdfast",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "holdfast", targets: ["holdfast"]),
        .library(name: "SIPMessage", targets: ["SIPMessage"]),
        .library(name: "SIPAuth", targets: ["SIPAuth"]),
        .library(name: "SIPCore", targets: ["SIPCore"]),
        .library(name: "SIP", targets: ["SIP"]),
        .library(name: "SDP", targets: ["SDP"]),
        .library(name: "RTP", targets: ["RTP"]),
        .library(name: "Audio", targets: ["Audio"]),
        .library(name: "Media", targets: ["Media"]),
        .library(name: "MediaServices", targets: ["MediaServices"]),
        .library(name: "CallServer", targets: ["CallServer"]),
        .library(name: "CTI", targets: ["CTI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        // Message model, parser, serializer, URIs, typed headers. No I/O, no dependencies
        // (so the fuzzer can compile it alone).
        .target(name: "SIPMessage"),
        // Digest authentication (RFC 7616/8760, RFC 2617 compatible): client and server side.
        .target(
            name: "SIPAuth",
            dependencies: ["SIPMessage", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Transaction, dialog and registration state machines as plain values; no sockets, no clocks.
        .target(name: "SIPCore", dependencies: ["SIPMessage"]),
        // Transports on SwiftNIO and the runtime that drives the state machines.
        .target(
            name: "SIP",
            dependencies: [
                "SIPMessage", "SIPAuth", "SIPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "holdfast",
            dependencies: [
                // Exactly what its files import.
                "SIPMessage", "SIP", "SIPTools", "CallServer", "MediaServices", "CTI", "Standby", "Collab", "Phone", "Wire", "TLSFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Session descriptions (RFC 8866) and offer/answer (RFC 3264). No I/O.
        .target(name: "SDP"),
        // RTP/RTCP packets, reception statistics, RFC 4733 DTMF, jitter buffer. No I/O.
        .target(name: "RTP"),
        // Codecs (G.711), WAV, tone and file sources, sinks, gain, mixer. No network.
        .target(name: "Audio"),
        // libsrtp2 from Debian (libsrtp2-dev).
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        // The SRTP/SRTCP transform of a stream (RFC 3711) keyed by SDES (RFC 4568).
        .target(name: "SRTP", dependencies: ["CSRTP", "SDP"]),
        // RTP streams on UDP sockets: send clock, symmetric RTP, RTCP, DTMF, play-out.
        .target(
            name: "Media",
            dependencies: [
                "RTP", "Audio", "SDP", "SRTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Types shared on the wire between the programs, and the sequenced event log. No I/O.
        .target(name: "Wire"),
        // YAML configuration files, with errors that name the file and the key.
        .target(name: "ConfigFile", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Failures counted per key within a window, in bounded memory (login limits, digest bans).
        .target(name: "Throttle"),
        // TLS material: a private CA and server certificates made at first start, PEM files read
        // into swift-nio-ssl contexts, and the phone's trust (a CA file or a pinned fingerprint).
        .target(
            name: "TLSFiles",
            dependencies: [
                "ConfigFile",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // JSON over HTTP (Hummingbird): one error shape, responses, request bodies checked field by field.
        .target(
            name: "HTTPJSON",
            dependencies: ["Wire", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Voicemail without I/O beyond its own files: mailboxes (WAVs with an SQLite index, hashed
        // PINs) and the keypad dialogue of deposit and retrieval as a plain state machine.
        .target(
            name: "Voicemail",
            dependencies: [
                "Audio", "Wire", "ConfigFile", "Throttle",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ]
        ),
        // Media services answered over SIP (echo test, music on hold, the ACD queue): in the call
        // server's process by default, or on a `holdfast media` host. Its prompts are generated
        // speech (scripts/prompts), committed as small WAVs.
        .target(
            name: "MediaServices",
            dependencies: [
                "SIP", "SIPCore", "SIPMessage", "SDP", "Media", "Audio", "ConfigFile", "CallMedia", "Voicemail", "Wire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("Prompts")]
        ),
        // The call server (PBX): registrar, B2BUA routing, features, CDR log.
        .target(
            name: "CallServer",
            dependencies: [
                "SIP", "SIPCore", "SIPMessage", "SIPAuth", "SDP", "Wire", "ConfigFile", "MediaServices", "Throttle", "Voicemail", "RTP", "TLSFiles",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The call server's CTI API: HTTP + WebSocket (Hummingbird) over the CallServer actor.
        .target(
            name: "CTI",
            dependencies: [
                "CallServer", "Wire", "HTTPJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // A client of the call server's CTI API: requests, and its event stream followed with resume.
        .target(
            name: "CTILink",
            dependencies: [
                "Wire",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A secondary call server following the primary: its feature state copied through CTI.
        .target(
            name: "Standby",
            dependencies: ["CallServer", "CTILink", "Wire", .product(name: "Logging", package: "swift-log")]
        ),
        // The collaboration server: accounts, phone sessions, presence, chat, directory, history,
        // settings and call control through the call server's CTI API.
        .target(
            name: "Collab",
            dependencies: [
                "Wire", "HTTPJSON", "ConfigFile", "CTILink", "Throttle",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The softphone's core: capability table, collaboration-session supervision, cache, SIP
        // registration, local API.
        .target(
            name: "Phone",
            dependencies: [
                "Wire", "HTTPJSON", "ConfigFile", "SIP", "SIPCore", "SIPMessage", "CallMedia", "Media", "SDP", "Audio", "PhoneUI", "TLSFiles",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The phone's window: HTML, CSS and JavaScript served by its local API.
        .target(name: "PhoneUI", resources: [.copy("Resources")]),
        // A call's media glued to its dialog (offer/answer, re-INVITE, INFO digits), for the phone
        // and the SIP test tools.
        .target(
            name: "CallMedia",
            dependencies: [
                "SIP", "SIPCore", "SIPMessage", "SDP", "RTP", "Audio", "Media",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Command-line SIP test phones (sip answer, sip call): user agent plus media.
        .target(
            name: "SIPTools",
            dependencies: [
                "SIP", "SIPCore", "SIPMessage", "SDP", "RTP", "Audio", "Media", "CallMedia",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Micro-benchmarks (scripts/bench runs them in release mode).
        .executableTarget(
            name: "holdfast-bench",
            dependencies: ["SIPMessage", "SIP", "SIPCore", "SDP", "CallMedia", "Media", "MediaServices", "Audio", .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(
            name: "CallServerTests",
            dependencies: [
                "CallServer", "CTI", "MediaServices", "Voicemail", "Audio", "SIP", "SIPMessage", "SIPCore", "SIPAuth", "Wire",
                .product(name: "NIOPosix", package: "swift-nio"),
                "TestSupport",
            ]
        ),
        // Helpers shared by test targets: bounded waits, CTI clients.
        .target(
            name: "TestSupport",
            dependencies: [
                "CallServer", "Wire",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "CollabTests",
            dependencies: [
                "Collab", "Wire", "ConfigFile", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ]
        ),
        .testTarget(name: "PhoneTests", dependencies: ["Phone", "Wire", "Audio"]),
        .testTarget(name: "SIPMessageTests", dependencies: ["SIPMessage"]),
        .testTarget(name: "SDPTests", dependencies: ["SDP"]),
        .testTarget(name: "SRTPTests", dependencies: ["SRTP", "SDP"]),
        .testTarget(name: "RTPTests", dependencies: ["RTP"]),
        .testTarget(name: "AudioTests", dependencies: ["Audio"]),
        .testTarget(
            name: "MediaTests",
            dependencies: ["Media", "RTP", "Audio", "SDP", "SRTP", .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(name: "SIPAuthTests", dependencies: ["SIPAuth", "SIPMessage"]),
        .testTarget(name: "VoicemailTests", dependencies: ["Voicemail", "Wire", "Audio"]),
        .testTarget(name: "SIPCoreTests", dependencies: ["SIPCore", "SIPMessage"]),
        .testTarget(
            name: "SIPTests",
            dependencies: [
                "SIP", "SIPCore", "SIPMessage", "SIPAuth", "Audio", "CallServer", "TestSupport", "Collab", "Phone", "Wire", "TLSFiles",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            exclude: ["sipp"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
