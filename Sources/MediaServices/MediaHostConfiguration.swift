// The configuration of a `holdfast media` host (YAML, docs/pbx-config.md "Media services"), with
// defaults that work on loopback and errors that name the key at fault.

import ConfigFile
import Foundation

public struct MediaHostConfiguration: Codable, Sendable, Equatable {
    public var host = "127.0.0.1"
    /// The SIP port (UDP and TCP); 0 picks a free one (the call server's own host does).
    public var port = 0
    /// The WAV (8 kHz, mono, 16-bit) played to parties on hold; nil plays the built-in tune.
    public var musicOnHold: String?
    /// RTP ports, `low-high`.
    public var rtpPorts: ClosedRange<Int> = 40000...49999
    /// Calls served at once; more are refused with 503, so callers cannot exhaust the host.
    public var maxSessions = 500
    /// Meet-me conference rooms this host serves (the call server's own host gets pbx.yaml's).
    public var conferences: [ConferenceRoomConfiguration] = []
    /// Seconds without RTP after which a conference participant is taken out of its room.
    public var rtpTimeoutSeconds = 30.0

    public init() {}

    enum CodingKeys: String, CodingKey { case host, port, musicOnHold, rtpPorts, maxSessions, conferences, rtpTimeoutSeconds }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = MediaHostConfiguration()
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? defaults.host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? defaults.port
        musicOnHold = try c.decodeIfPresent(String.self, forKey: .musicOnHold)
        maxSessions = try c.decodeIfPresent(Int.self, forKey: .maxSessions) ?? defaults.maxSessions
        conferences = try c.decodeIfPresent([ConferenceRoomConfiguration].self, forKey: .conferences) ?? []
        rtpTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .rtpTimeoutSeconds) ?? defaults.rtpTimeoutSeconds
        if let text = try c.decodeIfPresent(String.self, forKey: .rtpPorts) {
            let bounds = text.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard bounds.count == 2, bounds[0] >= 1024, bounds[0] < bounds[1], bounds[1] <= 65535 else {
                throw DecodingError.dataCorruptedError(forKey: .rtpPorts, in: c, debugDescription: "rtpPorts must be low-high, such as 40000-49999")
            }
            rtpPorts = bounds[0]...bounds[1]
        } else {
            rtpPorts = defaults.rtpPorts
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(host, forKey: .host)
        try c.encode(port, forKey: .port)
        try c.encodeIfPresent(musicOnHold, forKey: .musicOnHold)
        try c.encode("\(rtpPorts.lowerBound)-\(rtpPorts.upperBound)", forKey: .rtpPorts)
        try c.encode(maxSessions, forKey: .maxSessions)
        if !conferences.isEmpty { try c.encode(conferences, forKey: .conferences) }
        try c.encode(rtpTimeoutSeconds, forKey: .rtpTimeoutSeconds)
    }

    public static func load(_ url: URL) throws -> MediaHostConfiguration {
        let configuration = try ConfigFile.load(MediaHostConfiguration.self, from: url)
        try configuration.validate(source: url.path)
        return configuration
    }

    func validate(source: String) throws {
        guard (0...65535).contains(port) else { throw ConfigurationError("\(source): port must be 0–65535") }
        guard maxSessions > 0 else { throw ConfigurationError("\(source): maxSessions must be positive") }
        guard rtpTimeoutSeconds >= 1 else { throw ConfigurationError("\(source): rtpTimeoutSeconds must be at least 1") }
        try ConferenceRoomConfiguration.validate(conferences, key: "\(source): conferences")
        if let musicOnHold, !FileManager.default.isReadableFile(atPath: musicOnHold) {
            throw ConfigurationError("\(source): musicOnHold: \(musicOnHold) cannot be read")
        }
    }
}
