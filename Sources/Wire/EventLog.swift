// An event stream with a monotonic sequence number, a bounded history for resume-after-reconnect,
// and live subscribers: the call server's CTI events, and each user's events on the collaboration
// server. The epoch changes at every start, so a consumer that resumes across a restart knows to
// resynchronise.

import Foundation
import Synchronization

public struct StreamEvent: Sendable, Equatable, Codable {
    public var sequence: Int64
    public var epoch: String
    public var type: String
    public var time: Date
    public var fields: [String: JSONValue]

    enum CodingKeys: String, CodingKey { case sequence, epoch, type, time }

    public init(sequence: Int64, epoch: String, type: String, time: Date, fields: [String: JSONValue]) {
        self.sequence = sequence
        self.epoch = epoch
        self.type = type
        self.time = time
        self.fields = fields
    }

    /// Fields sit beside sequence/epoch/type/time in one flat object.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(type, forKey: .type)
        try c.encode(time, forKey: .time)
        try fields.encode(to: encoder)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try c.decode(Int64.self, forKey: .sequence)
        epoch = try c.decode(String.self, forKey: .epoch)
        type = try c.decode(String.self, forKey: .type)
        time = try c.decode(Date.self, forKey: .time)
        var all = try [String: JSONValue](from: decoder)
        for key in ["sequence", "epoch", "type", "time"] { all[key] = nil }
        fields = all
    }
}

public final class EventLog: Sendable {
    public let epoch: String
    public let capacity: Int
    private let state: Mutex<State>

    struct State {
        var history: [StreamEvent] = []
        var next: Int64 = 1
        var subscribers: [UUID: AsyncStream<StreamEvent>.Continuation] = [:]
    }

    /// What a subscriber gets first: the events it missed, or word that they are gone.
    public struct Subscription: Sendable {
        /// Events after the requested sequence, oldest first (empty when not `complete`).
        public var replay: [StreamEvent]
        /// False when the requested position is no longer held (or belongs to another epoch):
        /// the consumer must take a fresh snapshot.
        public var complete: Bool
        public var live: AsyncStream<StreamEvent>
    }

    public init(capacity: Int = 10_000, epoch: String = UUID().uuidString) {
        self.capacity = capacity
        self.epoch = epoch
        state = Mutex(State())
    }

    public var lastSequence: Int64 { state.withLock { $0.next - 1 } }

    @discardableResult
    public func append(_ type: String, _ fields: [String: JSONValue], time: Date = Date()) -> StreamEvent {
        state.withLock { state in
            let event = StreamEvent(sequence: state.next, epoch: epoch, type: type, time: time, fields: fields)
            state.next += 1
            state.history.append(event)
            // Trimmed a quarter at a time: dropping one event per append would move the whole
            // history each time. Up to 1.25 × capacity is held; at least `capacity` always is.
            if state.history.count > capacity + capacity / 4 { state.history.removeFirst(state.history.count - capacity) }
            for continuation in state.subscribers.values { continuation.yield(event) }
            return event
        }
    }

    /// Subscribes from `after` (nil: live only). Replay and registration happen under one lock,
    /// so no event is lost or doubled between them.
    public func subscribe(after: Int64?, epoch requestedEpoch: String? = nil) -> Subscription {
        let id = UUID()
        let (stream, continuation) = AsyncStream<StreamEvent>.makeStream(bufferingPolicy: .bufferingNewest(capacity))
        let (replay, complete) = state.withLock { state -> ([StreamEvent], Bool) in
            state.subscribers[id] = continuation
            guard let after else { return ([], true) }
            if let requestedEpoch, requestedEpoch != epoch { return ([], false) }
            let oldest = state.history.first?.sequence ?? state.next
            guard after >= oldest - 1, after < state.next else { return ([], false) }
            return (state.history.filter { $0.sequence > after }, true)
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return Subscription(replay: replay, complete: complete, live: stream)
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }
}
