// Conference rooms as the programs tell each other of them: who is in a room, who talks, who is
// muted (CTI `GET /cti/v1/conferences`, and the phone's call window).

import Foundation

/// One participant of a conference room.
public struct ConferenceParticipant: Codable, Sendable, Equatable, Identifiable {
    /// The participant's call in the room (the call server's call id).
    public var id: String
    /// Who it is: the caller's number and directory name, if known.
    public var number: String
    public var name: String?
    /// Speaking now (above the talker threshold, with a short hang-over).
    public var talking: Bool
    /// Muted by the room's controller: heard by nobody.
    public var muted: Bool
    /// When it joined (seconds since 1970).
    public var joinedAt: Double

    public init(id: String, number: String, name: String?, talking: Bool, muted: Bool, joinedAt: Double) {
        self.id = id
        self.number = number
        self.name = name
        self.talking = talking
        self.muted = muted
        self.joinedAt = joinedAt
    }
}

/// A conference room and who is in it now.
public struct ConferenceRoomStatus: Codable, Sendable, Equatable {
    public var number: String
    public var name: String
    /// Whether a PIN is asked on entry (the PIN itself is never shown).
    public var hasPIN: Bool
    /// A locked room takes nobody new.
    public var locked: Bool
    public var maxParticipants: Int
    public var participants: [ConferenceParticipant]

    public init(number: String, name: String, hasPIN: Bool, locked: Bool, maxParticipants: Int, participants: [ConferenceParticipant]) {
        self.number = number
        self.name = name
        self.hasPIN = hasPIN
        self.locked = locked
        self.maxParticipants = maxParticipants
        self.participants = participants
    }
}
