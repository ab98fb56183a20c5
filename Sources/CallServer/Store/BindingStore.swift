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
    /// False when the write failed: the REGISTER must not be answered 200.
    @discardableResult
    public nonisolated(nonsending) func saveBindings(_ aor: String, _ bindings: [Binding]) async -> Bool {
        // Prepared once per connection and with the path written as JSON directly: at thousands of
        // registrations a second, the record layer's encoding cost more than SQLite.
        let rows = bindings.enumerated().map { position, binding -> StatementArguments in
            [aor, position, binding.contact.description, binding.expires, binding.callID, Int64(binding.cseq),
             JSONText.array(binding.path), binding.instance, binding.regID, binding.source, binding.transport]
        }
        let ticket = writer.enqueue { db in
            try db.cachedStatement(sql: "DELETE FROM bindings WHERE aor = ?").execute(arguments: [aor])
            let insert = try db.cachedStatement(sql: """
                INSERT INTO bindings (aor, position, contact, expires, callID, cseq, path, instance, regID, source, transport)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for row in rows { try insert.execute(arguments: row) }
        }
        return await writer.durable(through: ticket)
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
