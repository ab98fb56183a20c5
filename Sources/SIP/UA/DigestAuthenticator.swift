// Answers digest challenges for the registration client and for requests (SIPAuth underneath).

import SIPAuth
import SIPCore
import SIPMessage

public struct DigestAuthenticator: RegistrationAuthenticator {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public func authorization(challenge: String, method: SIPMethod, uri: String) -> String? {
        guard let parsed = try? DigestChallenge(parsing: challenge) else { return nil }
        let cnonce = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return try? DigestClient.credentials(
            for: parsed, method: method.rawValue, uri: uri, username: username, password: password, cnonce: cnonce
        ).headerValue
    }

    /// The Authorization (401) or Proxy-Authorization (407) header answering a challenge response,
    /// choosing the strongest challenge offered (RFC 8760 §2.4).
    public func answer(_ response: SIPResponse, method: SIPMethod, uri: String) -> (HeaderName, String)? {
        let challengeHeader: HeaderName = response.statusCode == 407 ? .proxyAuthenticate : .wwwAuthenticate
        let challenges = response.headers.values(challengeHeader).compactMap { try? DigestChallenge(parsing: $0) }
        guard let best = DigestClient.preferred(challenges) else { return nil }
        guard let value = authorization(challenge: best.headerValue, method: method, uri: uri) else { return nil }
        return (response.statusCode == 407 ? .proxyAuthorization : .authorization, value)
    }
}
