// How mailboxes behave (pbx.yaml `voicemail:`, docs/pbx-config.md): recording limits, the size of
// a mailbox, when a PIN is asked, message waiting to phones that did not subscribe.

import Foundation

public struct VoicemailSettings: Codable, Sendable, Equatable {
    /// Every user has a mailbox; false: none has (calls not answered get 480 as before).
    public var enabled = true
    /// A recording ends after this much silence, and at this length at most.
    public var silenceSeconds: Double = 10
    public var maxSeconds: Double = 180
    /// A recording shorter than this is not kept.
    public var minSeconds: Double = 2
    /// Messages one mailbox keeps at most; a deposit to a full one is told so and ends.
    public var maxMessages = 100
    /// `*97` from the user's own registered device asks the PIN too.
    public var askPINOnOwnPhone = false
    /// Devices that registered without subscribing get message-summary NOTIFYs anyway (as desk
    /// phones expect); per user in `users[].voicemail.unsolicitedMWI`.
    public var unsolicitedMWI = true
    /// Wrong PINs for one mailbox, over all calls, within `pinLockSeconds` before it takes no PIN
    /// for that long (the owner's own phone still opens it).
    public var pinFailures = 10
    public var pinLockSeconds: Double = 900

    public init() {}

    enum CodingKeys: String, CodingKey {
        case enabled, silenceSeconds, maxSeconds, minSeconds, maxMessages, askPINOnOwnPhone, unsolicitedMWI, pinFailures, pinLockSeconds
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = VoicemailSettings()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        silenceSeconds = try c.decodeIfPresent(Double.self, forKey: .silenceSeconds) ?? d.silenceSeconds
        maxSeconds = try c.decodeIfPresent(Double.self, forKey: .maxSeconds) ?? d.maxSeconds
        minSeconds = try c.decodeIfPresent(Double.self, forKey: .minSeconds) ?? d.minSeconds
        maxMessages = try c.decodeIfPresent(Int.self, forKey: .maxMessages) ?? d.maxMessages
        askPINOnOwnPhone = try c.decodeIfPresent(Bool.self, forKey: .askPINOnOwnPhone) ?? d.askPINOnOwnPhone
        unsolicitedMWI = try c.decodeIfPresent(Bool.self, forKey: .unsolicitedMWI) ?? d.unsolicitedMWI
        pinFailures = try c.decodeIfPresent(Int.self, forKey: .pinFailures) ?? d.pinFailures
        pinLockSeconds = try c.decodeIfPresent(Double.self, forKey: .pinLockSeconds) ?? d.pinLockSeconds
    }

    /// Why the settings cannot be used, naming the key, or nil.
    public func problem() -> String? {
        guard silenceSeconds >= 1 else { return "voicemail.silenceSeconds must be 1 or more" }
        guard minSeconds >= 0, maxSeconds > minSeconds, maxSeconds <= 3600 else { return "voicemail.maxSeconds must exceed minSeconds and be at most 3600" }
        guard (1...10_000).contains(maxMessages) else { return "voicemail.maxMessages must be 1–10000" }
        guard pinFailures >= 3, pinLockSeconds >= 60 else { return "voicemail.pinFailures must be 3 or more and pinLockSeconds 60 or more" }
        return nil
    }
}
