// The phone's configuration (YAML): who it logs in as, where the collaboration server is, where
// its local API listens. Everything else comes from provisioning at login (and its cache).

import ConfigFile
import Foundation
import SDP
import TLSFiles

public struct PhoneConfiguration: Codable, Sendable, Equatable {
    public struct API: Codable, Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 8501
        public init() {}
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            host = try c.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 8501
        }
    }

    public enum RecordingPolicy: String, Codable, Sendable { case discard, keep }

    /// Login (extension) and password on the collaboration server.
    public var user: String
    public var password: String
    /// Base URL of the collaboration server.
    public var collab = "http://127.0.0.1:8470"
    public var api = API()
    /// Address the phone's SIP user agent binds (port 0: any free port).
    public var sipHost = "127.0.0.1"
    public var sipPort = 0
    /// Whom the phone trusts when its call server is reached over TLS: a CA certificate file
    /// (PEM; the site's private CA, `tls/ca.pem` in the call server's data directory), or the
    /// server certificate's SHA-256 fingerprint pinned ("SHA-256 AB:CD:…"). Neither: the
    /// system's roots.
    public var sipCA: String?
    public var sipFingerprint: String?
    public var heartbeatSeconds: Double = 2
    public var autoAnswer = false
    public var showCallPopup = true
    /// A double-click on a contact calls it.
    public var callOnDoubleClick = true
    public var recordingPolicy = RecordingPolicy.discard
    /// SRTP for calls (SDES, keys sent only over TLS): `optional` (the default) encrypts when the
    /// far end takes it, `required` refuses calls that cannot be encrypted, `off` never offers it.
    public var mediaEncryption = MediaEncryptionPolicy.optional

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    enum CodingKeys: String, CodingKey {
        case user, password, collab, api, sipHost, sipPort, sipCA, sipFingerprint, heartbeatSeconds, autoAnswer, showCallPopup, callOnDoubleClick, recordingPolicy, mediaEncryption
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        user = try c.decode(String.self, forKey: .user)
        password = try c.decode(String.self, forKey: .password)
        collab = try c.decodeIfPresent(String.self, forKey: .collab) ?? "http://127.0.0.1:8470"
        api = try c.decodeIfPresent(API.self, forKey: .api) ?? API()
        sipHost = try c.decodeIfPresent(String.self, forKey: .sipHost) ?? "127.0.0.1"
        sipPort = try c.decodeIfPresent(Int.self, forKey: .sipPort) ?? 0
        sipCA = try c.decodeIfPresent(String.self, forKey: .sipCA)
        sipFingerprint = try c.decodeIfPresent(String.self, forKey: .sipFingerprint)
        heartbeatSeconds = try c.decodeIfPresent(Double.self, forKey: .heartbeatSeconds) ?? 2
        autoAnswer = try c.decodeIfPresent(Bool.self, forKey: .autoAnswer) ?? false
        showCallPopup = try c.decodeIfPresent(Bool.self, forKey: .showCallPopup) ?? true
        callOnDoubleClick = try c.decodeIfPresent(Bool.self, forKey: .callOnDoubleClick) ?? true
        recordingPolicy = try c.decodeIfPresent(RecordingPolicy.self, forKey: .recordingPolicy) ?? .discard
        mediaEncryption = try c.decodeIfPresent(MediaEncryptionPolicy.self, forKey: .mediaEncryption) ?? .optional
    }

    public static func load(_ url: URL) throws -> PhoneConfiguration {
        let configuration = try ConfigFile.load(PhoneConfiguration.self, from: url)
        guard URL(string: configuration.collab)?.host != nil else { throw ConfigurationError("\(url.path): collab is not a URL: \(configuration.collab)") }
        guard (0...65535).contains(configuration.api.port) else { throw ConfigurationError("\(url.path): api.port must be 0–65535") }
        if let pin = configuration.sipFingerprint {
            do { _ = try TLSContexts.pinned(pin) } catch { throw ConfigurationError("\(url.path): sipFingerprint: \(error)") }
        }
        if let ca = configuration.sipCA, !FileManager.default.isReadableFile(atPath: ca) {
            throw ConfigurationError("\(url.path): sipCA: cannot read \(ca)")
        }
        guard configuration.heartbeatSeconds >= 0.1 else { throw ConfigurationError("\(url.path): heartbeatSeconds must be at least 0.1") }
        return configuration
    }
}

/// The phone's own preferences (not the call server's): from the configuration file, changed
/// through the API (`PUT /api/phone-settings`) and then kept in `DIR/phone-settings.json`.
public struct PhoneSettings: Codable, Sendable, Equatable {
    public var autoAnswer: Bool
    public var showCallPopup: Bool
    public var callOnDoubleClick: Bool
    public var recordingPolicy: PhoneConfiguration.RecordingPolicy

    public init(_ configuration: PhoneConfiguration) {
        autoAnswer = configuration.autoAnswer
        showCallPopup = configuration.showCallPopup
        callOnDoubleClick = configuration.callOnDoubleClick
        recordingPolicy = configuration.recordingPolicy
    }
}
