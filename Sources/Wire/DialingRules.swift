// Dialed-number processing: what the collaboration server does to a number typed by a person
// before the call server sees it. Offline, phones send numbers as typed (SYSTEM.md, limited mode §2).

import Foundation

public struct DialingRules: Codable, Sendable, Equatable {
    /// The office's country calling code, without "+": "44".
    public var countryCode: String
    /// Dialed before any number outside the office: "9".
    public var outsideLinePrefix: String
    /// Dialed before a country code for calls abroad: "00".
    public var internationalPrefix: String
    /// Dialed before a national number inside the country: "0".
    public var nationalPrefix: String
    /// Lengths of internal extensions (dialed as they are).
    public var extensionLengths: [Int]

    public init(countryCode: String = "44", outsideLinePrefix: String = "9", internationalPrefix: String = "00", nationalPrefix: String = "0",
                extensionLengths: [Int] = [4]) {
        self.countryCode = countryCode
        self.outsideLinePrefix = outsideLinePrefix
        self.internationalPrefix = internationalPrefix
        self.nationalPrefix = nationalPrefix
        self.extensionLengths = extensionLengths
    }

    enum CodingKeys: String, CodingKey { case countryCode, outsideLinePrefix, internationalPrefix, nationalPrefix, extensionLengths }

    /// Every key may be left out (a configuration names only what differs from the defaults).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DialingRules()
        countryCode = try c.decodeIfPresent(String.self, forKey: .countryCode) ?? d.countryCode
        outsideLinePrefix = try c.decodeIfPresent(String.self, forKey: .outsideLinePrefix) ?? d.outsideLinePrefix
        internationalPrefix = try c.decodeIfPresent(String.self, forKey: .internationalPrefix) ?? d.internationalPrefix
        nationalPrefix = try c.decodeIfPresent(String.self, forKey: .nationalPrefix) ?? d.nationalPrefix
        extensionLengths = try c.decodeIfPresent([Int].self, forKey: .extensionLengths) ?? d.extensionLengths
    }

    public enum Failure: Error, Equatable, Sendable {
        case empty
        case invalidCharacter(Character)
    }

    /// The number to send to the call server for `typed`:
    /// - spaces, dashes, dots, slashes and parentheses are removed;
    /// - an extension (a length in `extensionLengths`) or a feature code (`*`, `#`) is kept as it is;
    /// - `+CC…` in the office's country becomes outside line + national prefix + the national number,
    ///   any other `+…` outside line + international prefix + the digits;
    /// - a number already starting with the outside-line prefix is kept; any other gets it in front.
    public func apply(to typed: String) throws(Failure) -> String {
        var digits = ""
        for character in typed {
            switch character {
            case " ", "-", ".", "/", "(", ")", "\u{00A0}": continue
            case "+" where digits.isEmpty: digits.append(character)
            case "0"..."9", "*", "#": digits.append(character)
            default: throw .invalidCharacter(character)
            }
        }
        guard !digits.isEmpty, digits != "+" else { throw .empty }
        if digits.hasPrefix("*") || digits.hasPrefix("#") || extensionLengths.contains(digits.count) && !digits.hasPrefix("+") { return digits }
        if digits.hasPrefix("+") {
            let international = digits.dropFirst()
            if international.hasPrefix(countryCode) {
                var national = international.dropFirst(countryCode.count)
                // "+44 (0)20 …": the national prefix written in brackets is not dialed twice.
                if national.hasPrefix(nationalPrefix) { national = national.dropFirst(nationalPrefix.count) }
                return outsideLinePrefix + nationalPrefix + national
            }
            return outsideLinePrefix + internationalPrefix + international
        }
        return digits.hasPrefix(outsideLinePrefix) ? digits : outsideLinePrefix + digits
    }
}
