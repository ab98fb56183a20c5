// A secondary call server's copy of the primary's feature state (DND, the three forwardings, the
// no-answer timer, "Sending calls to"). It follows the primary's CTI event stream and stores every
// `features.changed` in this server's own durable store; after a connection that could not resume
// where it left off (first start, or the primary's event history was lost), it reads every user's
// features again. So when the primary fails and phones register here, their settings keep working,
// also across a restart of this server while the primary is still down.

import CallServer
import CTILink
import Foundation
import Logging
import Wire

public struct FeatureReplica: Sendable {
    let server: CallServer
    let client: CTIClient
    let follower: CTIEventFollower
    let users: [String]
    let logger = Logger(label: "holdfast.pbx.replica")

    /// For `server`, started from `configuration`, which names the primary it follows.
    public init(server: CallServer, configuration: PBXConfiguration) throws {
        guard let primary = configuration.follows else { throw ReplicaError("this call server follows no primary (no follows in its configuration)") }
        guard let url = URL(string: primary.cti) else { throw ReplicaError("follows.cti is not a URL: \(primary.cti)") }
        self.server = server
        client = CTIClient(baseURL: url, secret: primary.secret)
        follower = CTIEventFollower(baseURL: url, secret: primary.secret, logger: Logger(label: "holdfast.pbx.replica.events"))
        users = configuration.users.map(\.extensionNumber)
    }

    /// Follows the primary until cancelled (reconnecting by itself while the primary is down).
    public func run() async {
        await follower.run { message in
            switch message {
            case .connected(let resumed):
                logger.notice("following the primary's feature state", metadata: ["resumed": "\(resumed)"])
                if !resumed { await snapshot() }
            case .event(let event) where event.cti == .featuresChanged:
                if case .featuresChanged(let user, let settings)? = CTIMessage(event) {
                    await apply(Features(user: user, settings: settings))
                } else {
                    await apply(nil)
                }
            case .disconnected:
                logger.warning("the primary's event stream ended; keeping the last known feature state")
            case .event:
                break
            }
        }
    }

    /// Every user's features as the primary has them now.
    func snapshot() async {
        for user in users {
            do {
                if case .object(let fields) = try await client.request("GET", "users/\(user)/features") { await apply(Features(json: fields)) }
            } catch {
                logger.warning("features not read from the primary", metadata: ["user": "\(user)", "error": "\(error.message)"])
                return
            }
        }
    }

    func apply(_ features: Features?) async {
        guard let features else {
            logger.warning("a features.changed event without a user was ignored")
            return
        }
        do { try await server.replicate(features) } catch {
            logger.error("the primary's features could not be stored", metadata: ["user": "\(features.extensionNumber)", "error": "\(error)"])
        }
    }
}

public struct ReplicaError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
