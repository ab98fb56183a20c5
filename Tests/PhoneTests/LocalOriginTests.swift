// Which pages may talk to the phone's local API: its own, on its own port, over http.

import Testing
@testable import Phone

@Suite struct LocalOriginTests {
    @Test(arguments: [
        ("http://127.0.0.1:8471", true), ("http://localhost:8471", true), ("http://127.0.0.1:8471/", true),
        ("http://127.0.0.1", false),        // another loopback site (port 80)
        ("http://127.0.0.1:9999", false),   // another program's page
        ("ws://127.0.0.1:8471", true), ("ws://127.0.0.1", true),  // a WebSocket client that is no page (no browser sends ws://)
        ("ws://127.0.0.1:9999", false), ("https://127.0.0.1:8471", false),
        ("http://evil.example:8471", false), ("null", false),
    ])
    func anOriginIsThePhonesOwnPageOnlyWithItsPort(origin: String, allowed: Bool) {
        #expect(LocalOrigin.isLocal(origin: origin, port: 8471) == allowed, "\(origin)")
    }
}
