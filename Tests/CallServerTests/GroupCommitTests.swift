// A write that fails is reported to whoever waited for it, not passed off as durable.

import GRDB
import Testing
@testable import CallServer

@Suite struct GroupCommitTests {
    struct Refused: Error {}

    @Test func aFailedWriteFailsTheWaitAndTheNextGoodOneSucceeds() async throws {
        let database = try DatabaseQueue()
        try await database.write { db in try db.execute(sql: "CREATE TABLE t (x INTEGER NOT NULL)") }
        let writer = GroupCommit(database: database)
        let good = writer.enqueue { db in try db.execute(sql: "INSERT INTO t (x) VALUES (1)") }
        #expect(await writer.durable(through: good), "a good write is durable")
        let bad = writer.enqueue { _ in throw Refused() }
        #expect(await writer.durable(through: bad) == false, "the failing write is reported, whether or not it was done when asked")
        let later = writer.enqueue { db in try db.execute(sql: "INSERT INTO t (x) VALUES (2)") }
        #expect(await writer.durable(through: later), "a later good write is not blamed for the earlier failure")
        #expect(await writer.durable(through: bad) == false, "asked again, still failed")
        let count = try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") }
        #expect(count == 2)
    }
}
