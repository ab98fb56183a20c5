// Follows the call server's CTI event stream (a WebSocket), resuming from the last sequence after
// a reconnect; reconnects by itself, with a growing pause, for as long as it runs.

import Foundation
import HummingbirdWSClient
import Logging
import Synchronization
import Wire

public final class CTIEventFollower: Sendable {
    public enum Message: Sendable {
        /// The stream (re)started; `resumed` false means events may have been missed.
        case connected(resumed: Bool)
        case event(StreamEvent)
        case disconnected
    }

    private let url: URL
    private let secret: String
    private let logger: Logger
    private let position = Mutex<(epoch: String?, sequence: Int64?)>((nil, nil))
    private let connectedFlag = Mutex(false)

    public init(baseURL: URL, secret: String, logger: Logger) {
        url = baseURL
        self.secret = secret
        self.logger = logger
    }

    public var isConnected: Bool { connectedFlag.withLock { $0 } }

    /// Runs until cancelled, handing every message to `handle` in order.
    public func run(_ handle: @escaping @Sendable (Message) async -> Void) async {
        var pause = 0.25
        while !Task.isCancelled {
            let (epoch, sequence) = position.withLock { $0 }
            var query = ""
            if let epoch, let sequence { query = "?after=\(sequence)&epoch=\(epoch)" }
            let target = url.absoluteString.replacingOccurrences(of: "http://", with: "ws://").replacingOccurrences(of: "https://", with: "wss://")
                + "/cti/v1/events" + query
            do {
                try await WebSocketClient.connect(
                    url: target,
                    configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: [.authorization: "Bearer \(secret)"]),
                    logger: logger
                ) { inbound, _, _ in
                    let decoder = JSONDecoder()
                    decoder.dateDecodingStrategy = .iso8601
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        let data = Data(text.utf8)
                        if let hello = try? decoder.decode(Hello.self, from: data), hello.type == "hello" {
                            self.connectedFlag.withLock { $0 = true }
                            self.position.withLock { $0 = (hello.epoch, hello.resumed ? $0.sequence ?? hello.sequence : hello.sequence) }
                            await handle(.connected(resumed: hello.resumed))
                        } else if let event = try? decoder.decode(StreamEvent.self, from: data) {
                            self.position.withLock { $0 = (event.epoch, event.sequence) }
                            await handle(.event(event))
                        }
                    }
                }
            } catch {
                logger.debug("CTI event stream ended", metadata: ["error": "\(error)"])
            }
            let wasConnected = connectedFlag.withLock { let was = $0; $0 = false; return was }
            if wasConnected {
                await handle(.disconnected)
                pause = 0.25
            }
            do { try await Task.sleep(for: .seconds(pause)) } catch { return }
            pause = min(pause * 2, 5)
        }
    }

    private struct Hello: Decodable {
        var type: String
        var epoch: String
        var sequence: Int64
        var resumed: Bool
    }
}
