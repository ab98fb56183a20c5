// Conference rooms under CTI control: who is in each room, muting one, taking one out, locking
// the room. The rooms themselves are the media services' (MediaServices/Conference.swift).

import MediaServices
import Wire

extension CallServer {
    /// Every configured room with its participants now.
    public func conferences() throws(ControlError) -> [ConferenceRoomStatus] {
        try conferenceRooms().all.map(\.status)
    }

    public func conference(_ number: String) throws(ControlError) -> ConferenceRoomStatus {
        try room(number).status
    }

    /// Mutes or unmutes a participant (heard by nobody while muted).
    public func muteParticipant(_ participant: String, in number: String, muted: Bool) throws(ControlError) -> ConferenceRoomStatus {
        let room = try room(number)
        guard room.setMuted(participant, muted) else { throw Self.noParticipant(participant, number) }
        return room.status
    }

    /// Takes a participant out of the room: its call is hung up, the others stay.
    public func removeParticipant(_ participant: String, from number: String) async throws(ControlError) -> ConferenceRoomStatus {
        let room = try room(number)
        guard let host = mediaHost, await host.removeParticipant(participant, room: number) else { throw Self.noParticipant(participant, number) }
        return room.status
    }

    /// A locked room takes nobody new (those dialing in hear that it is locked).
    public func lockConference(_ number: String, locked: Bool) throws(ControlError) -> ConferenceRoomStatus {
        let room = try room(number)
        room.setLocked(locked)
        return room.status
    }

    func conferenceRooms() throws(ControlError) -> ConferenceRooms {
        guard let host = mediaHost else {
            throw ControlError(.conflict, "media_elsewhere", "the conference rooms run on the media host \(configuration.media.remote ?? "")")
        }
        return host.rooms
    }

    private func room(_ number: String) throws(ControlError) -> ConferenceRoom {
        guard let room = try conferenceRooms()[number] else {
            throw ControlError(.notFound, "unknown_conference", "there is no conference room \(number)", details: ["room": number])
        }
        return room
    }

    static func noParticipant(_ participant: String, _ room: String) -> ControlError {
        ControlError(.notFound, "unknown_participant", "\(participant) is not in conference room \(room)", details: ["room": room, "participant": participant])
    }
}
