// Call park as a value: first free slot, one call per slot and one slot per call, release; the
// park configuration and the slots in the numbering plan.

import Testing
@testable import CallServer

@Suite struct ParkLotTests {
    @Test func callsTakeTheFirstFreeSlotAndASlotIsFreedOnce() {
        var lot = ParkLot(slots: ["701", "702"])
        #expect(lot.park("c1", parker: "2001", now: 1) == "701")
        #expect(lot.park("c2", parker: "2002", now: 2) == "702")
        #expect(lot.park("c3", parker: "2003", now: 3) == nil, "every slot taken")
        #expect(lot.park("c1", parker: "2001", now: 4) == nil, "a call parks once")
        #expect(lot.release("701") == ParkLot.Parked(call: "c1", parker: "2001", since: 1))
        #expect(lot.release("701") == nil, "retrieved once")
        #expect(lot.park("c3", parker: "2003", now: 5) == "701", "the freed slot is first again")
        #expect(lot.slot(of: "c2") == "702" && lot.slot(of: "c1") == nil)
    }

    @Test func theOfficeSlotsAreInThePlanAndCannotTakeAnotherNumber() throws {
        let base = "users:\n  - { extension: \"2001\", name: A, password: a }\n"
        let configuration = try PBXConfiguration.parse(base + "park: { code: \"*70\", first: 701, last: 720, seconds: 180 }\n")
        #expect(configuration.park?.slots.count == 20 && configuration.park?.slots.first == "701")
        #expect(NumberingPlan(configuration).resolve("705") == .parkSlot("705"))
        #expect(NumberingPlan(configuration).resolve("721") == .unknown)
        #expect(NumberingPlan(try PBXConfiguration.parse(base)).resolve("701") == .unknown, "no park configured: no slots")
        #expect { try PBXConfiguration.parse(base + "park: { first: 2001, last: 2002 }\n", source: "pbx.yaml") } throws: { "\($0)".contains("park slot 2001") }
        #expect { try PBXConfiguration.parse(base + "park: { code: \"70\" }\n", source: "pbx.yaml") } throws: { "\($0)".contains("park.code") }
    }
}
