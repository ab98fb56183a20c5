// Dialog creation, in-dialog request building and checking (RFC 3261 §12).

import SIPMessage
import Testing
@testable import SIPCore

@Suite struct DialogTests {
    let contact = NameAddress(uri: try! SIPURI("sip:2001@127.0.0.1:5070"))

    func invite() -> SIPRequest {
        var r = request(.invite)
        r.headers.add(.contact, "<sip:2001@127.0.0.1:5070>")
        r.headers.add(.recordRoute, "<sip:p1.example;lr>, <sip:p2.example;lr>")
        return r
    }

    func ok(_ invite: SIPRequest) -> SIPResponse {
        var response = SIPResponse(replyingTo: invite, statusCode: 200, toTag: "t9")
        response.headers.add(.recordRoute, "<sip:p1.example;lr>, <sip:p2.example;lr>")
        response.headers.add(.contact, "<sip:2002@127.0.0.1:5080>")
        return response
    }

    @Test func uacDialogReversesTheRouteSetAndTargetsTheContact() throws {
        let invite = invite()
        let dialog = try #require(Dialog(uacFor: invite, response: ok(invite), localContact: contact))
        #expect(dialog.state == .confirmed)
        #expect(dialog.id == DialogID(callID: "call-1", localTag: "f1", remoteTag: "t9"))
        #expect(dialog.routeSet.map { $0.uri.description } == ["sip:p2.example;lr", "sip:p1.example;lr"])
        #expect(dialog.remoteTarget.description == "sip:2002@127.0.0.1:5080")
        #expect(dialog.nextHop.description == "sip:p2.example;lr")
    }

    @Test func uasDialogKeepsRouteOrderAndRemoteCSeq() throws {
        let dialog = try #require(Dialog(uasFor: invite(), localTag: "t9", localContact: contact, confirmed: true))
        #expect(dialog.routeSet.map { $0.uri.description } == ["sip:p1.example;lr", "sip:p2.example;lr"])
        #expect(dialog.remoteSequence == 7)
        #expect(dialog.local.tag == "t9")
        #expect(dialog.remote.tag == "f1")
    }

    @Test func inDialogRequestsUseLooseRoutingAndIncreaseCSeq() throws {
        let invite = invite()
        var dialog = try #require(Dialog(uacFor: invite, response: ok(invite), localContact: contact))
        let ack = dialog.makeRequest(.ack, ackFor: 7)
        #expect(ack.cseq == CSeq(7, .ack))
        let bye = dialog.makeRequest(.bye)
        #expect(bye.cseq == CSeq(8, .bye))
        #expect(bye.uri.description == "sip:2002@127.0.0.1:5080")
        #expect(bye.routes.count == 2)
        #expect(bye.to?.tag == "t9" && bye.from?.tag == "f1")
        let reinvite = dialog.makeRequest(.invite)
        #expect(reinvite.cseq == CSeq(9, .invite))
        #expect(reinvite.contacts.first?.uri.description == "sip:2001@127.0.0.1:5070")
    }

    @Test func strictRouterBecomesTheRequestURI() throws {
        let invite = invite()
        var response = ok(invite)
        response.headers.set(.recordRoute, "<sip:strict.example;maddr=10.0.0.1>")
        var dialog = try #require(Dialog(uacFor: invite, response: response, localContact: contact))
        let bye = dialog.makeRequest(.bye)
        #expect(bye.uri.description == "sip:strict.example")
        #expect(bye.routes.last?.uri.description == "sip:2002@127.0.0.1:5080")
    }

    @Test func outOfOrderCSeqIsRejectedWith500AndReinviteRefreshesTheTarget() throws {
        var dialog = try #require(Dialog(uasFor: invite(), localTag: "t9", localContact: contact, confirmed: true))
        var reinvite = request(.invite)
        reinvite.headers.set(.cseq, "8 INVITE")
        reinvite.headers.set(.contact, "<sip:2001@127.0.0.9:6000>")
        #expect(dialog.receive(reinvite) == .accept)
        #expect(dialog.remoteTarget.description == "sip:2001@127.0.0.9:6000")
        var stale = request(.info)
        stale.headers.set(.cseq, "8 INFO")
        guard case .reject(500, _) = dialog.receive(stale) else { Issue.record("expected 500"); return }
        var bye = request(.bye)
        bye.headers.set(.cseq, "9 BYE")
        #expect(dialog.receive(bye) == .accept)
        #expect(dialog.state == .terminated)
    }

    @Test func earlyDialogsPerRemoteTagConfirmOn2xx() throws {
        let invite = invite()
        var ringing = SIPResponse(replyingTo: invite, statusCode: 180, toTag: "fork1")
        ringing.headers.add(.contact, "<sip:a@127.0.0.1:1>")
        let other = SIPResponse(replyingTo: invite, statusCode: 180, toTag: "fork2")
        var first = try #require(Dialog(uacFor: invite, response: ringing, localContact: contact))
        let second = try #require(Dialog(uacFor: invite, response: other, localContact: contact))
        #expect(first.state == .early && first.id != second.id)
        first.receive(SIPResponse(replyingTo: invite, statusCode: 200, toTag: "fork1"))
        #expect(first.state == .confirmed)
    }
}
