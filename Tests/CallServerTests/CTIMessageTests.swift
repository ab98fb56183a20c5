// Every CTI event, written as the call server writes it and read back as its followers read it.

import Foundation
import Testing
import Wire

@Suite struct CTIMessageTests {
    static let messages: [CTIMessage] = [
        .messageWaiting(user: "2002", new: 1, old: 2),
        .conferenceJoined(room: "5100", participant: "c1@host"),
        .conferenceLeft(room: "adhoc-1f", participant: "c2@host;callee"),
        .conferenceTalking(room: "5100", participant: "c1@host", talking: true),
        .callOffered(call: "c1", caller: "2001", callerName: "Ada Lovelace", dialed: "2002"),
        .callOffered(call: "c1", caller: "2001", callerName: nil, dialed: "*43"),
        .callOriginated(call: "c2", caller: "2001", dialed: "2003"),
        .callRinging(call: "c1", caller: "2001", callee: "2002", devices: ["desk", "soft"]),
        .callForwarded(call: "c1", from: "2002", to: "2003", reason: "forwardBusy"),
        .callAnswered(call: "c1", caller: "2001", callee: "2002", device: "desk"),
        .callHeld(call: "c1", party: "2001"),
        .callRetrieved(call: "c1", party: "2001"),
        .callConsulting(call: "c1", consultation: "c3", party: "2002", to: "2004"),
        .callTransferring(call: "c1", party: "2002", to: "2003"),
        .callTransferred(call: "c1", caller: "2001", callee: "2003", rebridged: true),
        .callTransferred(call: "c1", caller: "2001", callee: "2003", rebridged: true, replaced: "2002"),
        .callTransferFailed(call: "c1", to: "2003", reason: "2003 did not answer (408)"),
        .callRecalled(call: "c1", party: "2002", from: "2003", reason: .transfer),
        .hotDeskChanged(user: "2101", device: "2004", previous: nil),
        .hotDeskChanged(user: "2101", device: nil, previous: "2004"),
        .parkChanged(slot: "701", call: "c1", parker: "2001"),
        .parkChanged(slot: "701", call: nil, parker: nil),
        .consoleChanged(user: "2001", active: true),
        .callRecalled(call: "c1", party: "2001", from: "2001", reason: .hold),
        .callEnded(call: "c1", caller: "2001", callee: "2002", outcome: CallOutcome.answered.rawValue, cdr: 7),
        .callEnded(call: "c1", caller: "2001", callee: "2002", outcome: CallOutcome.busy.rawValue, cdr: nil),
        .callbackRequested(callback: "cb1", requester: "2001", target: "2002"),
        .callbackPlaced(callback: "cb1", call: "c4", requester: "2001", target: "2002"),
        .callbackExpired(callback: "cb1", requester: "2001", target: "2002"),
        .devicesChanged(user: "2001", devices: []),
        .featuresChanged(user: "2001", settings: CallSettings(doNotDisturb: true, forwardNoAnswer: "2004", noAnswerSeconds: 15)),
        .agentChanged(agent: "7001", status: "makeBusy", reason: "lunch", device: "2002"),
        .agentChanged(agent: "7001", status: "loggedOut", reason: nil, device: nil),
        .pathChanged(path: "5000", waiting: 3),
        .securityBanned(address: "127.0.0.9", reason: "digest failures", seconds: 600),
    ]

    @Test(arguments: messages.indices)
    func readsBackWhatWasWritten(_ index: Int) {
        let message = Self.messages[index]
        let log = EventLog()
        let event = log.append(message)
        #expect(event.type == message.event.rawValue)
        #expect(CTIMessage(event) == message, "\(event.fields)")
    }

    @Test func everyEventHasAMessage() {
        let written = Set(Self.messages.map(\.event))
        #expect(written == Set(CTIEvent.allCases), "untested: \(Set(CTIEvent.allCases).subtracting(written))")
    }

    @Test func aFieldMissingOrOfTheWrongTypeIsNotReadAsTheEvent() {
        #expect(CTIMessage(.callAnswered, fields: ["call": "c1", "caller": "2001", "callee": "2002"]) == nil, "no device")
        #expect(CTIMessage(.callTransferred, fields: ["call": "c1", "caller": "2001", "callee": "2002", "rebridged": "yes"]) == nil)
        #expect(CTIMessage(.featuresChanged, fields: ["doNotDisturb": true]) == nil, "no user")
    }

    @Test func unsetSettingsAreNullAndTheUserIsNamed() {
        let fields = CTIMessage.featuresChanged(user: "2002", settings: CallSettings()).fields
        #expect(fields["user"] == .string("2002"))
        #expect(fields["forwardAlways"] == .null && fields["doNotDisturb"] == .bool(false))
    }
}

@Suite struct CallSettingsChangeTests {
    @Test func aFieldGivenReplacesNullClearsAbsentKeeps() throws {
        let current = CallSettings(doNotDisturb: true, forwardBusy: "2003", noAnswerSeconds: 20)
        let change = try CallSettings.Change(["forwardBusy": .null, "forwardNoAnswer": "2004", "noAnswerSeconds": .int(12)])
        #expect(change.keys == [.forwardBusy, .forwardNoAnswer, .noAnswerSeconds])
        #expect(change.applied(to: current) == CallSettings(doNotDisturb: true, forwardNoAnswer: "2004", noAnswerSeconds: 12))
    }

    @Test func aWrongFieldIsNamedWithWhatItTakes() {
        let cases: [([String: JSONValue], CallSettings.FieldError)] = [
            (["ringTone": "bell"], .init(field: "ringTone", expected: nil)),
            (["doNotDisturb": .null], .init(field: "doNotDisturb", expected: "true or false")),
            (["doNotDisturb": "yes"], .init(field: "doNotDisturb", expected: "true or false")),
            (["forwardAlways": .int(2003)], .init(field: "forwardAlways", expected: "a string, or null to clear it")),
            (["noAnswerSeconds": "ten"], .init(field: "noAnswerSeconds", expected: "a number of seconds, or null for the server default")),
        ]
        for (fields, expected) in cases {
            #expect(throws: expected, "\(fields)") { try CallSettings.Change(fields) }
        }
    }
}
