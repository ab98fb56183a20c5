// The registrar's rules (RFC 3261 §10.3) and the configuration's errors.

import TestSupport
import SIP
import SIPMessage
import Testing
@testable import CallServer

@Suite struct RegistrarTests {
    func register(_ contacts: [String], expires: Int? = 3600, callID: String = "c1", cseq: Int = 1, extra: String = "") -> SIPRequest {
        var text = "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK\(cseq)\r\nTo: <sip:2001@127.0.0.1>\r\nFrom: <sip:2001@127.0.0.1>;tag=a\r\nCall-ID: \(callID)\r\nCSeq: \(cseq) REGISTER\r\n"
        for contact in contacts { text += "Contact: \(contact)\r\n" }
        if let expires { text += "Expires: \(expires)\r\n" }
        text += extra + "Content-Length: 0\r\n\r\n"
        return try! SIPParser().parse(text).request!
    }

    @Test func severalContactsExpireAndUnregister() {
        var registrar = Registrar()
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5070>", "<sip:2001@127.0.0.1:5071>;expires=120"]), aor: "2001", source: "127.0.0.1:5070", transport: "UDP", now: 0)
        #expect(registrar.lookup("2001", now: 100).count == 2)
        #expect(registrar.lookup("2001", now: 200).count == 1, "the 120 s binding expired")
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5070>"], expires: 0, cseq: 2), aor: "2001", source: "x", transport: "UDP", now: 300)
        #expect(registrar.lookup("2001", now: 300).isEmpty)
    }

    @Test func aUserCannotRegisterMoreDevicesThanAllowed() {
        var registrar = Registrar(maxContacts: 2)
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5070>", "<sip:2001@127.0.0.1:5071>"]), aor: "2001", source: "s", transport: "UDP", now: 0)
        #expect(registrar.register(register(["<sip:2001@127.0.0.1:5072>"], callID: "c2"), aor: "2001", source: "s", transport: "UDP", now: 1)
            == .reject(status: 403, reason: "Too many registrations (2 devices at most)", minExpires: nil))
        #expect(registrar.lookup("2001", now: 1).count == 2, "nothing of the refused REGISTER was kept")
        // Refreshing a device already bound is always allowed.
        let refreshed = registrar.register(register(["<sip:2001@127.0.0.1:5070>"], cseq: 2), aor: "2001", source: "s", transport: "UDP", now: 2)
        #expect({ if case .ok = refreshed { true } else { false } }(), "\(refreshed)")
        #expect(registrar.lookup("2001", now: 2).count == 2)
    }

    @Test func aRegisterWhoseWriteFailedIsUndone() {
        var registrar = Registrar()
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5070>"]), aor: "2001", source: "s", transport: "UDP", now: 0)
        let before = registrar.bindings["2001"]
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5071>"], callID: "c2"), aor: "2001", source: "s", transport: "UDP", now: 1)
        #expect(registrar.lookup("2001", now: 1).count == 2)
        registrar.reset("2001", to: before)
        #expect(registrar.lookup("2001", now: 1).map(\.contact.uri.description) == ["sip:2001@127.0.0.1:5070"])
    }

    @Test func wildcardNeedsExpiresZero() {
        var registrar = Registrar()
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5070>"]), aor: "2001", source: "s", transport: "UDP", now: 0)
        #expect(registrar.register(register(["*"], expires: 60, cseq: 2), aor: "2001", source: "s", transport: "UDP", now: 1)
            == .reject(status: 400, reason: "Contact: * requires Expires: 0 and no other Contact", minExpires: nil))
        #expect(registrar.register(register(["*"], expires: 0, cseq: 3), aor: "2001", source: "s", transport: "UDP", now: 1) == .ok([]))
        #expect(registrar.lookup("2001", now: 1).isEmpty)
    }

    /// The device a REGISTER created, reached as `requestTarget` says.
    func target(_ contact: String, source: String, transport: String = "UDP", extra: String = "") -> SIPTarget? {
        var registrar = Registrar()
        _ = registrar.register(register([contact], extra: extra), aor: "2001", source: source, transport: transport, now: 0)
        return registrar.lookup("2001", now: 0).first?.requestTarget
    }

    @Test func requestsGoToTheContactOnItsOwnHostElseToTheSourceOrThePath() {
        // Same host, another port (a registration made for another listener): the Contact.
        #expect(target("<sip:2001@127.0.0.1:5070>", source: "127.0.0.1:40000") == SIPTarget(kind: .udp, host: "127.0.0.1", port: 5070))
        #expect(target("<sip:2001@127.0.0.1>", source: "127.0.0.1:40000") == SIPTarget(kind: .udp, host: "127.0.0.1", port: 5060))
        // A contact naming another address (behind NAT): where the REGISTER came from.
        #expect(target("<sip:2001@192.168.1.20:5070>", source: "203.0.113.7:61000") == SIPTarget(kind: .udp, host: "203.0.113.7", port: 61000))
        // Over TCP, and for an RFC 5626 flow: the flow.
        #expect(target("<sip:2001@127.0.0.1:5070;transport=tcp>", source: "127.0.0.1:40000", transport: "TCP") == SIPTarget(kind: .tcp, host: "127.0.0.1", port: 40000))
        #expect(target("<sip:2001@127.0.0.1:5070>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-000000000001>\"", source: "127.0.0.1:40000")
                == SIPTarget(kind: .udp, host: "127.0.0.1", port: 40000))
        // Registered through a border proxy: the first Path entry, whatever the source.
        #expect(target("<sip:2001@10.0.0.5:5070>", source: "127.0.0.1:5080", extra: "Path: <sip:127.0.0.1:5090;lr>, <sip:core.example;lr>\r\nSupported: path\r\n")
                == SIPTarget(kind: .udp, host: "127.0.0.1", port: 5090))
        #expect(target("<sip:2001@10.0.0.5:5070>", source: "127.0.0.1:5080", extra: "Path: <sip:127.0.0.1:5090;transport=tcp;lr>\r\nSupported: path\r\n")
                == SIPTarget(kind: .tcp, host: "127.0.0.1", port: 5090))
    }

    @Test func lapsedBindingsGoWithTheirOwnersNextRegisterOrTheMinuteSweep() {
        var registrar = Registrar(minExpires: 10)
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5070>;expires=10"]), aor: "2001", source: "s", transport: "UDP", now: 0)
        // At 30 s 2001's binding has lapsed: never looked up, kept until the next sweep.
        _ = registrar.register(register(["<sip:2002@127.0.0.1:5072>"], callID: "c2"), aor: "2002", source: "s", transport: "UDP", now: 30)
        #expect(registrar.lookup("2001", now: 30).isEmpty)
        #expect(registrar.bindings["2001"]?.count == 1, "a REGISTER of 2002 does not sweep everyone 30 s after the last sweep")
        _ = registrar.register(register(["<sip:2002@127.0.0.1:5072>"], callID: "c2", cseq: 2), aor: "2002", source: "s", transport: "UDP", now: 61)
        #expect(registrar.bindings["2001"] == nil, "the sweep a minute after the last one removed it")
        #expect(registrar.lookup("2002", now: 61).count == 1)
        // 2001 registering again drops its own lapsed binding at once.
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5071>;expires=10"], callID: "c3"), aor: "2001", source: "s", transport: "UDP", now: 62)
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5073>"], callID: "c4"), aor: "2001", source: "s", transport: "UDP", now: 80)
        #expect(registrar.bindings["2001"]?.map(\.contact.uri.description) == ["sip:2001@127.0.0.1:5073"])
    }

    @Test func tooBriefIntervalGets423WithMinExpires() {
        var registrar = Registrar(minExpires: 60)
        #expect(registrar.register(register(["<sip:2001@127.0.0.1:5070>"], expires: 10), aor: "2001", source: "s", transport: "UDP", now: 0)
            == .reject(status: 423, reason: "Interval Too Brief", minExpires: 60))
    }

    @Test func outOfOrderRegisterIsRejected() {
        var registrar = Registrar()
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5070>"], cseq: 5), aor: "2001", source: "s", transport: "UDP", now: 0)
        guard case .reject(500, _, _) = registrar.register(register(["<sip:2001@127.0.0.1:5070>"], cseq: 4), aor: "2001", source: "s", transport: "UDP", now: 1) else {
            Issue.record("expected 500"); return
        }
    }

    @Test func outboundInstanceReplacesItsOwnBindingAndPathIsKept() {
        var registrar = Registrar()
        let instance = "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\""
        _ = registrar.register(register(["<sip:2001@127.0.0.1:5070>;+sip.instance=\(instance);reg-id=1"], extra: "Path: <sip:edge.example;lr>\r\n"), aor: "2001", source: "s", transport: "UDP", now: 0)
        _ = registrar.register(register(["<sip:2001@127.0.0.1:6000>;+sip.instance=\(instance);reg-id=1"], cseq: 2, extra: "Path: <sip:edge.example;lr>\r\n"), aor: "2001", source: "s", transport: "UDP", now: 1)
        let bindings = registrar.lookup("2001", now: 2)
        #expect(bindings.count == 1, "the same instance and reg-id is one flow")
        #expect(bindings.first?.path == ["<sip:edge.example;lr>"])
        #expect(bindings.first?.contact.uri.description == "sip:2001@127.0.0.1:6000")
    }
}

@Suite struct ConfigurationTests {
    @Test func officeExampleLoads() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/office/pbx.yaml")
        let configuration = try PBXConfiguration.load(url)
        #expect(configuration.users.map(\.extensionNumber) == ["2001", "2002", "2003", "2004", "2101", "2102"])
        #expect(configuration.user("2002")?.name == "Brook Taylor")
        #expect(configuration.user("2101")?.hotDeskPIN == "8642" && configuration.user("2102")?.hotDeskPIN == "8643")
        #expect(configuration.park?.slots.first == "701" && configuration.park?.slots.last == "720" && configuration.park?.code == "*70")
        #expect(configuration.recall.transferSeconds == 30 && configuration.recall.holdSeconds == 90)
        #expect(configuration.listen.port == 5060)
    }

    @Test(arguments: [
        ("users:\n  - { extension: \"20x1\", name: A, password: p }\n", "users[0].extension must be digits"),
        ("listen: { port: 70000 }\n", "listen.port must be 0–65535"),
        ("users:\n  - { extension: \"2001\", name: A }\n", "missing key 'users[0].password'"),
        ("ringTimeout: soon\n", "ringTimeout"),
        ("digestAlgorithms: [SHA-512]\n", "digestAlgorithms[0] 'SHA-512'"),
        ("follows: { cti: primary, secret: s }\n", "follows.cti must be the primary's CTI URL"),
        ("follows: { cti: \"http://127.0.0.1:5080\", secret: \"\" }\n", "follows.secret is empty"),
        ("numbering:\n  - { dial: \"*4x\", service: echo }\n", "numbering[0].dial must be digits, * and #"),
        ("numbering:\n  - { dial: \"*43\" }\n", "numbering[0] needs exactly one of service"),
        ("numbering:\n  - { dial: \"*43\", service: fax }\n", "numbering[0].service"),
        ("numbering:\n  - { dial: \"*43\", service: echo }\n  - { dial: \"*43\", service: moh }\n", "numbering[1].dial *43 appears twice"),
        ("media: { remote: \"media.example\" }\n", "media.remote must be host:port"),
        ("media: { musicOnHold: /nonexistent/tune.wav }\n", "media.musicOnHold: /nonexistent/tune.wav cannot be read"),
    ])
    func badConfigurationNamesTheKey(text: String, mention: String) {
        #expect { try PBXConfiguration.parse(text, source: "test.yaml") } throws: { error in
            "\(error)".contains(mention) && "\(error)".hasPrefix("test.yaml")
        }
    }
}

import Foundation
