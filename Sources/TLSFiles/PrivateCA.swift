// A site's own certificate authority, made at first start so TLS is on without anyone buying or
// issuing a certificate: a CA (P-256, ten years) and a server certificate it signs for the names
// and addresses the servers answer on (two years). Kept 0600 in a 0700 folder of the data
// directory; made again only when missing, expiring within 30 days, or not naming every name.
// Phones trust the CA file (or pin the server certificate's fingerprint).

import ConfigFile
import Crypto
import Foundation
import SwiftASN1
import X509

/// The PEM files a server (and those who trust it) need.
public struct TLSFileSet: Sendable, Equatable {
    /// The CA certificate phones and peers trust.
    public var caFile: URL
    /// The server's certificate, then the CA's (the chain it presents).
    public var certificateFile: URL
    /// The server's private key.
    public var keyFile: URL

    public init(caFile: URL, certificateFile: URL, keyFile: URL) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

public enum PrivateCA {
    static let caValidity: TimeInterval = 10 * 365 * 86_400
    static let serverValidity: TimeInterval = 2 * 365 * 86_400
    static let renewBefore: TimeInterval = 30 * 86_400

    /// The CA and server certificate in `directory` (made or renewed as needed) for `names`
    /// (host names and IP addresses; "localhost" and 127.0.0.1 are always included).
    public static func ensure(in directory: URL, names: [String], organisation: String = "Holdfast", now: Date = Date()) throws -> TLSFileSet {
        try PrivateFiles.directory(directory)
        let files = TLSFileSet(caFile: directory.appendingPathComponent("ca.pem"),
                               certificateFile: directory.appendingPathComponent("server.pem"),
                               keyFile: directory.appendingPathComponent("server.key"))
        let caKeyFile = directory.appendingPathComponent("ca.key")
        let wanted = Set(["localhost", "127.0.0.1"] + names.filter { !$0.isEmpty && $0 != "0.0.0.0" && $0 != "::" })

        let (caCertificate, caKey) = try loadCA(certificate: files.caFile, key: caKeyFile, now: now)
            ?? makeCA(organisation: organisation, certificate: files.caFile, key: caKeyFile, now: now)
        if try !serverCertificateIsGood(files, caCertificate: caCertificate, names: wanted, now: now) {
            try makeServer(files, names: wanted.sorted(), organisation: organisation, caCertificate: caCertificate, caKey: caKey, now: now)
        }
        return files
    }

    // MARK: - The CA

    private static func loadCA(certificate: URL, key: URL, now: Date) throws -> (Certificate, P256.Signing.PrivateKey)? {
        guard FileManager.default.fileExists(atPath: certificate.path), FileManager.default.fileExists(atPath: key.path) else { return nil }
        let caCertificate = try read(certificate) { try Certificate(pemEncoded: $0) }
        let caKey = try read(key) { try P256.Signing.PrivateKey(pemRepresentation: $0) }
        guard caCertificate.notValidAfter.timeIntervalSince(now) > renewBefore,
              caCertificate.publicKey == Certificate.PublicKey(caKey.publicKey) else { return nil }
        return (caCertificate, caKey)
    }

    private static func makeCA(organisation: String, certificate: URL, key: URL, now: Date) throws -> (Certificate, P256.Signing.PrivateKey) {
        let caKey = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName(organisation)
            CommonName("\(organisation) private CA")
        }
        let caCertificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(caValidity),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(caKey.publicKey))
            },
            issuerPrivateKey: .init(caKey))
        try write(caKey.pemRepresentation, to: key)
        try write(caCertificate.serializeAsPEM().pemString, to: certificate)
        return (caCertificate, caKey)
    }

    // MARK: - The server certificate

    private static func serverCertificateIsGood(_ files: TLSFileSet, caCertificate: Certificate, names: Set<String>, now: Date) throws -> Bool {
        guard FileManager.default.fileExists(atPath: files.certificateFile.path), FileManager.default.fileExists(atPath: files.keyFile.path),
              let pem = try? String(contentsOf: files.certificateFile, encoding: .utf8),
              let leaf = try? PEMDocument.parseMultiple(pemString: pem).first.map({ try Certificate(pemDocument: $0) }),
              let key = try? P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: files.keyFile, encoding: .utf8)) else { return false }
        guard leaf.issuer == caCertificate.subject, leaf.publicKey == Certificate.PublicKey(key.publicKey),
              leaf.notValidAfter.timeIntervalSince(now) > renewBefore,
              caCertificate.publicKey.isValidSignature(leaf.signature, for: leaf) else { return false }
        let named = Set((try? leaf.extensions.subjectAlternativeNames)??.compactMap(Self.text) ?? [])
        return names.isSubset(of: named)
    }

    private static func makeServer(_ files: TLSFileSet, names: [String], organisation: String, caCertificate: Certificate, caKey: P256.Signing.PrivateKey, now: Date) throws {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName(organisation)
            CommonName(names.first { !isAddress($0) } ?? "localhost")
        }
        // An address goes in as an iPAddress entry (RFC 5280, what BoringSSL and OpenSSL match) and
        // again as a dNSName: liblinphone's mbedTLS matches only dNSName entries, so a phone told
        // to reach 127.0.0.1 would otherwise find no name it knows.
        let alternatives = SubjectAlternativeNames(names.flatMap { name in
            address(name).map { [GeneralName.ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))), .dnsName(name)] } ?? [.dnsName(name)]
        })
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(serverValidity),
            issuer: caCertificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                alternatives
            },
            issuerPrivateKey: .init(caKey))
        try write(key.pemRepresentation, to: files.keyFile)
        try write(leaf.serializeAsPEM().pemString + "\n" + caCertificate.serializeAsPEM().pemString, to: files.certificateFile)
    }

    // MARK: - Helpers

    static func isAddress(_ name: String) -> Bool { address(name) != nil }

    /// The bytes of an IPv4 or IPv6 address written as text (nil: a host name).
    static func address(_ name: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    private static func text(_ name: GeneralName) -> String? {
        switch name {
        case .dnsName(let host): return host
        case .ipAddress(let bytes):
            let raw = Array(bytes.bytes)
            var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let family = raw.count == 4 ? AF_INET : AF_INET6
            guard raw.withUnsafeBytes({ inet_ntop(family, $0.baseAddress, &out, socklen_t(out.count)) }) != nil else { return nil }
            return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        default: return nil
        }
    }

    private static func read<T>(_ file: URL, _ decode: (String) throws -> T) throws -> T {
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw ConfigurationError("cannot read \(file.path): \(error.localizedDescription)")
        }
        do { return try decode(text) } catch {
            throw ConfigurationError("\(file.path) is not a usable PEM file (\(error)); remove it to have it made again")
        }
    }

    private static func write(_ text: String, to file: URL) throws {
        let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).new")
        guard FileManager.default.createFile(atPath: temporary.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write \(temporary.path)")
        }
        guard rename(temporary.path, file.path) == 0 else {
            throw ConfigurationError("cannot move \(temporary.path) to \(file.path): \(String(cString: strerror(errno)))")
        }
    }
}
