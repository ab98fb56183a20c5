// What CTI may read and change on the call server: features (validated, durable, announced as
// events), registered devices, live calls, and the CDR log from a cursor.

import Wire
import Foundation
import SIPMessage

/// A refused control request: a stable code, a sentence for people, and its class.
public struct ControlError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable { case notFound, invalid, conflict, failed }
    public var kind: Kind
    public var code: String
    public var message: String
    public var details: [String: String]

    public init(_ kind: Kind, _ code: String, _ message: String, details: [String: String] = [:]) {
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(code): \(message)" }

    static func unknownUser(_ user: String) -> ControlError {
        ControlError(.notFound, "unknown_user", "there is no extension \(user)", details: ["user": user])
    }
    static func noSuchCall(_ id: String) -> ControlError {
        ControlError(.notFound, "unknown_call", "there is no call \(id)", details: ["call": id])
    }
}

/// One registered device of a user, as CTI shows it.
public struct DeviceInfo: Codable, Sendable, Equatable {
    public var device: String
    public var contact: String
    public var transport: String
    public var source: String
    public var expiresIn: Int
    public var selected: Bool
    /// The proxies a request to this device goes through (its Path, RFC 3327); empty when reached directly.
    public var path: [String]
}

/// A live call, as CTI shows it.
public struct CallSnapshot: Codable, Sendable, Equatable {
    public var call: String
    public var caller: String
    public var callerName: String?
    public var dialed: String
    public var callee: String
    public var state: String
    public var startedAt: Date
    public var answeredAt: Date?
    public var path: [String]
    /// Set on a consultation call: the held call it belongs to.
    public var consultationOf: String?
    /// Set on a call that came back to the one who let it go (a transfer unanswered, a hold too long).
    public var recall: RecallMark?
}

extension Features {
    public init(user: String, settings: CallSettings) {
        self.init(extensionNumber: user, settings: settings)
    }

    /// From the JSON of `json` (a CTI reply or a `features.changed` event); nil without a user.
    public init?(json: [String: JSONValue]) {
        guard let user = json["user"]?.stringValue, let settings = try? JSONValue.object(json).decode(CallSettings.self) else { return nil }
        self.init(user: user, settings: settings)
    }

    /// The features as CTI shows them: the user and every setting, null when unset.
    public var json: [String: JSONValue] {
        var object = (try? JSONValue(encoding: settings))?.objectValue ?? [:]
        object["user"] = .string(extensionNumber)
        return object
    }
}

extension CallServer {
    public static let noAnswerSecondsRange: ClosedRange<Double> = 5...300

    public func features(of user: String) throws -> Features {
        guard configuration.user(user) != nil else { throw ControlError.unknownUser(user) }
        do { return try store.features(user) } catch { throw ControlError(.failed, "storage_failed", "features could not be read: \(error)") }
    }

    /// Validates, stores durably, then announces `features.changed`. A secondary refuses: its
    /// features are the primary's, and a change here would be overwritten by the next one there.
    public func updateFeatures(of user: String, _ change: CallSettings.Change) throws -> Features {
        guard configuration.user(user) != nil else { throw ControlError.unknownUser(user) }
        if let primary = configuration.follows {
            throw ControlError(.conflict, "follower", "this call server is a secondary: features are changed on the primary (\(primary.cti)) and copied here")
        }
        for key in [CallSettings.CodingKeys.forwardAlways, .forwardBusy, .forwardNoAnswer] {
            guard let setting = key.forwardingTarget, change.touches(key), let target = change.settings[keyPath: setting] else { continue }
            if target == CallSettings.voicemail {
                guard configuration.voicemail.enabled else {
                    throw ControlError(.invalid, "invalid_target", "\(key.rawValue): this call server has no mailboxes", details: ["field": key.rawValue, "target": target])
                }
                continue
            }
            guard configuration.user(target) != nil else {
                throw ControlError(.invalid, "invalid_target", "\(key.rawValue): there is no extension \(target)", details: ["field": key.rawValue, "target": target])
            }
            guard target != user else {
                throw ControlError(.invalid, "invalid_target", "\(key.rawValue): \(user) cannot forward to itself", details: ["field": key.rawValue, "target": target])
            }
        }
        if change.touches(.noAnswerSeconds), let seconds = change.settings.noAnswerSeconds, !Self.noAnswerSecondsRange.contains(seconds) {
            throw ControlError(.invalid, "invalid_value", "noAnswerSeconds must be \(Int(Self.noAnswerSecondsRange.lowerBound))–\(Int(Self.noAnswerSecondsRange.upperBound)) seconds", details: ["field": "noAnswerSeconds"])
        }
        if change.touches(.selectedDevice), change.settings.selectedDevice?.isEmpty == true {
            throw ControlError(.invalid, "invalid_value", "selectedDevice must name a device, or be null for all devices", details: ["field": "selectedDevice"])
        }
        let updated: Features
        do {
            updated = try store.update(user) { features in features.settings = change.applied(to: features.settings) }
        } catch {
            throw ControlError(.failed, "storage_failed", "features could not be stored: \(error)")
        }
        events.append(.featuresChanged(user: updated.extensionNumber, settings: updated.settings))
        return updated
    }

    /// A secondary's copy of the primary's features for one user: stored as they are (the primary
    /// checked them) and announced like a change made here. Unknown users are skipped.
    public func replicate(_ features: Features) throws {
        guard configuration.user(features.extensionNumber) != nil, (try? store.features(features.extensionNumber)) != features else { return }
        let stored = try store.update(features.extensionNumber) { $0 = features }
        events.append(.featuresChanged(user: stored.extensionNumber, settings: stored.settings))
    }

    public func devices(of user: String) throws -> [DeviceInfo] {
        let selected = try features(of: user).selectedDevice
        let time = now()
        return registrar.lookup(user, now: time).map { binding in
            DeviceInfo(device: binding.deviceName, contact: binding.contact.uri.description, transport: binding.transport,
                       source: binding.source, expiresIn: max(0, Int(binding.expires - time)), selected: selected == binding.deviceName,
                       path: binding.path)
        }
    }

    public func liveCalls() -> [CallSnapshot] {
        calls.values.sorted { $0.startedAt < $1.startedAt }.map(snapshot)
    }

    func snapshot(_ call: Call) -> CallSnapshot {
        let state = switch call.state {
        case .originating: "originating"
        case .routing: "routing"
        case .ringing: "ringing"
        case .answered: "connected"
        case .ended: "ended"
        }
        return CallSnapshot(call: call.key, caller: call.caller, callerName: call.callerName, dialed: call.dialed, callee: call.target,
                            state: state, startedAt: call.startedAt, answeredAt: call.answeredAt, path: call.path, consultationOf: call.consultationOf, recall: call.recall)
    }

    public nonisolated func callRecords(after: Int64, limit: Int) throws -> [CallRecord] {
        guard after >= 0 else { throw ControlError(.invalid, "invalid_value", "after must be 0 or more", details: ["field": "after"]) }
        guard (1...1000).contains(limit) else { throw ControlError(.invalid, "invalid_value", "limit must be 1–1000", details: ["field": "limit"]) }
        do { return try store.records(after: after, limit: limit) } catch { throw ControlError(.failed, "storage_failed", "CDRs could not be read: \(error)") }
    }
}
