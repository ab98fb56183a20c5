// PEM files into swift-nio-ssl contexts, every failure naming the file: a server's certificate
// chain and key, a client's trust (a CA file, or the system's roots), and a pinned certificate
// fingerprint ("SHA-256 AB:CD:…", as RFC 8122 writes one) checked in place of a chain.

import ConfigFile
import Crypto
import Foundation
import NIOSSL

public enum TLSContexts {
    /// A context that presents the chain in `certificateFile` (leaf first) with `keyFile`'s key.
    public static func server(certificateFile: String, keyFile: String) throws -> NIOSSLContext {
        let chain = try certificates(certificateFile)
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: keyFile, format: .pem) } catch {
            throw ConfigurationError("\(keyFile) is not a usable PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw ConfigurationError("\(certificateFile) and \(keyFile) cannot serve TLS together (\(error))")
        }
    }

    /// A context for connecting that trusts the CA certificates in `caFile` (nil: the system's
    /// roots). The server's certificate must name the host or IP address connected to.
    public static func client(caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let caFile { configuration.trustRoots = .certificates(try certificates(caFile)) }
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw ConfigurationError("cannot make a TLS client context\(caFile.map { " trusting \($0)" } ?? "") (\(error))")
        }
    }

    /// A check that accepts a server whose leaf certificate has this SHA-256 fingerprint
    /// (hex, with or without colons, any case, optionally after "SHA-256 ").
    public static func pinned(_ fingerprint: String) throws -> @Sendable ([NIOSSLCertificate]) -> Bool {
        let wanted = normalised(fingerprint)
        guard wanted.count == 64, wanted.allSatisfy(\.isHexDigit) else {
            throw ConfigurationError("'\(fingerprint)' is not a SHA-256 certificate fingerprint (64 hex digits, colons allowed)")
        }
        return { chain in
            guard let leaf = chain.first, let der = try? leaf.toDERBytes() else { return false }
            return normalised(Self.fingerprint(der: der)) == wanted
        }
    }

    /// The fingerprint of the first certificate in a PEM file, written "SHA-256 AB:CD:…".
    public static func fingerprint(ofPEMFile file: String) throws -> String {
        guard let leaf = try certificates(file).first else { throw ConfigurationError("\(file) holds no certificate") }
        return try fingerprint(der: leaf.toDERBytes())
    }

    static func fingerprint(der: [UInt8]) -> String {
        "SHA-256 " + SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    private static func normalised(_ text: String) -> String {
        var hex = text.trimmingCharacters(in: .whitespaces).uppercased()
        for prefix in ["SHA-256 ", "SHA256 ", "SHA-256:", "SHA256:"] where hex.hasPrefix(prefix) { hex.removeFirst(prefix.count) }
        return hex.replacingOccurrences(of: ":", with: "").trimmingCharacters(in: .whitespaces)
    }

    private static func certificates(_ file: String) throws -> [NIOSSLCertificate] {
        guard FileManager.default.isReadableFile(atPath: file) else { throw ConfigurationError("cannot read \(file)") }
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(file) } catch {
            throw ConfigurationError("\(file) is not a usable PEM certificate file (\(error))")
        }
        guard !chain.isEmpty else { throw ConfigurationError("\(file) holds no certificate") }
        return chain
    }
}
