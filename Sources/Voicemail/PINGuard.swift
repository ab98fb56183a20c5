// Wrong PINs counted per mailbox across calls, so a PIN cannot be guessed three tries a call, call
// after call (voicemail toll fraud). Past the limit within the window the mailbox takes no PIN at
// all until its failures age out; the owner's own phone still opens it (`*97` needs no PIN).

import Foundation
import Synchronization
import Throttle

public final class PINGuard: Sendable {
    private let table = Mutex(FailureTable())
    public let limit: Int
    public let window: Double
    private let now: @Sendable () -> Double

    public init(limit: Int, window: Double, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.limit = limit
        self.window = window
        self.now = now
    }

    /// Whether the mailbox refuses every PIN now.
    public func isLocked(_ mailbox: String) -> Bool {
        let time = now()
        return table.withLock { $0.recent(mailbox, now: time, window: window).count >= limit }
    }

    /// Counts a wrong PIN; true when this one locks the mailbox.
    @discardableResult
    public func failed(_ mailbox: String) -> Bool {
        let time = now()
        return table.withLock { table in
            table.add(mailbox, now: time)
            return table.recent(mailbox, now: time, window: window).count == limit
        }
    }

    /// A right PIN clears the count.
    public func succeeded(_ mailbox: String) { table.withLock { $0.remove(mailbox) } }
}
