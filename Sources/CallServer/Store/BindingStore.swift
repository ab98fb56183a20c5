// Registrations kept durably, so a call server restarted after a crash still knows where every
// phone is (as Kamailio's usrloc does with a database behind it).

import Foundation
import GRDB
import SIPMessage

struct BindingRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "bindings"
    var aor: String
    var position: Int
    var contact: String
    var expires: Double
    var callID: String
    var cseq: Int64
    var path: [String]
    var instance: String?
    var regID: String?
    var source: String
    var transport: String
}

extension FeatureStore {
    /// Replaces the stored bindings of `aor` (none: the AOR is unregistered).
    /// Returns once they are stored (written with whatever else is queued: see GroupCommit).
    public nonisolated(nonsending) func saveBindings(_ aor: String, _ bindings: [Binding]) async {
        writer.enqueue { db in
            try BindingRow.filter(Column("aor") == aor).deleteAll(db)
            for (position, binding) in bindings.enumerated() {
                try BindingRow(aor: aor, position: position, contact: binding.contact.description, expires: binding.expires,
                               callID: binding.callID, cseq: Int64(binding.cseq), path: binding.path, instance: binding.instance,
                               regID: binding.regID, source: binding.source, transport: binding.transport).insert(db)
            }
        }
        await writer.durable()
    }

    /// The bindings still alive at `now`, by AOR, in their stored order.
    public func loadBindings(now: Double) throws -> [String: [Binding]] {
        let rows = try database.read { db in
            try BindingRow.filter(Column("expires") > now).order(Column("aor"), Column("position")).fetchAll(db)
        }
        var result: [String: [Binding]] = [:]
        for row in rows {
            guard let contact = try? NameAddress(row.contact) else { continue }
            result[row.aor, default: []].append(Binding(contact: contact, expires: row.expires, callID: row.callID, cseq: UInt32(clamping: row.cseq),
                                                        path: row.path, instance: row.instance, regID: row.regID, source: row.source, transport: row.transport))
        }
        return result
    }
}
