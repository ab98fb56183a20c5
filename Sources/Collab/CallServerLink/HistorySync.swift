// Call history from the call server's CDR log, read through a durable cursor: whatever happened
// while this server was down is read when it comes back, so no call is ever missing from history.

import CTILink
import Foundation
import Logging
import Wire

actor HistorySync {
    let cti: CTIClient
    let store: any CollabStore
    let hub: SessionHub
    let names: [String: String]
    let logger: Logger
    private var running = false
    private var again = false
    private(set) var lastError: CTIFailure?

    init(cti: CTIClient, store: any CollabStore, hub: SessionHub, names: [String: String], logger: Logger) {
        self.cti = cti
        self.store = store
        self.hub = hub
        self.names = names
        self.logger = logger
    }

    /// Reads every CDR after the cursor. Calls that arrive while a sync runs start another after it.
    func sync() async {
        if running {
            again = true
            return
        }
        running = true
        defer { running = false }
        repeat {
            again = false
            await readAll()
        } while again
    }

    private func readAll() async {
        do {
            while true {
                let cursor = try store.historyCursor()
                let page = try await cti.request("GET", "cdr?after=\(cursor)&limit=500")
                let records = try (page.objectValue?["records"] ?? .array([])).decode([CallRecord].self)
                // Every CDR the call server gives has its sequence: the cursor moves past the last.
                guard let last = records.last?.sequence else { break }
                let added = try store.appendHistory(records.flatMap(entries), cursor: last)
                for entry in added {
                    await hub.publish(.historyAdded, (try? JSONValue(encoding: entry))?.objectValue ?? [:], to: [entry.user])
                }
                logger.debug("history read", metadata: ["records": "\(records.count)", "cursor": "\(last)"])
                if records.count < 500 { break }
            }
            lastError = nil
        } catch let failure as CTIFailure {
            lastError = failure
            logger.warning("call history not read: \(failure.message)")
        } catch {
            logger.error("call history not stored", metadata: ["error": "\(error)"])
        }
    }

    /// The history lines one CDR makes: the caller's outgoing call; the callee's answered or
    /// missed call; and a missed call for the user dialed when the call went elsewhere.
    func entries(_ record: CallRecord) -> [HistoryEntry] {
        var result: [HistoryEntry] = []
        func entry(_ user: String, _ kind: HistoryEntry.Kind, remote: String, name: String?) -> HistoryEntry {
            HistoryEntry(id: 0, user: user, kind: kind, remote: remote, remoteName: name, startedAt: record.startedAt, answeredAt: record.answeredAt,
                         endedAt: record.endedAt, outcome: record.outcome, cdr: record.sequence ?? 0)
        }
        if names[record.caller] != nil {
            result.append(entry(record.caller, .outgoing, remote: record.dialed, name: names[record.dialed]))
        }
        let answered = record.answeredAt != nil
        if let callee = record.callee, names[callee] != nil, callee != record.caller {
            result.append(entry(callee, answered ? .answered : .missed, remote: record.caller, name: record.callerName ?? names[record.caller]))
        }
        if record.dialed != record.callee, record.dialed != record.caller, names[record.dialed] != nil {
            result.append(entry(record.dialed, .missed, remote: record.caller, name: record.callerName ?? names[record.caller]))
        }
        return result
    }
}
