// Call park as a plain value: the slots (701–720 in the example office), which call waits in
// which, who parked it and since when. Parking takes the first free slot; a slot is retrieved
// once; the park timer recalls the parker. Time is passed in; the call server runs the rest
// (ParkDriver.swift).

struct ParkLot: Sendable, Equatable {
    struct Parked: Sendable, Equatable {
        /// The call server's call, and the side of it that waits (the other side was the parker's).
        var call: String
        var parker: String
        var since: Double
    }

    let slots: [String]
    private(set) var parked: [String: Parked] = [:]

    init(slots: [String]) { self.slots = slots }

    /// Parks `call` in the first free slot; nil when all are taken (or it is parked already).
    mutating func park(_ call: String, parker: String, now: Double) -> String? {
        guard slot(of: call) == nil, let free = slots.first(where: { parked[$0] == nil }) else { return nil }
        parked[free] = Parked(call: call, parker: parker, since: now)
        return free
    }

    /// Takes what waits in `slot` out (retrieved, recalled, or its caller hung up).
    mutating func release(_ slot: String) -> Parked? { parked.removeValue(forKey: slot) }

    func slot(of call: String) -> String? { parked.first { $0.value.call == call }?.key }

    func isSlot(_ number: String) -> Bool { slots.contains(number) }
}
