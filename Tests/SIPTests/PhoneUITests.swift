// The phone's window in a real headless Chromium (Selenium), against the whole system run by
// `holdfast demo`: Tests/ui/phone_ui_test.py does the clicking; screenshots go to
// .build/ui-artifacts.

import Foundation
import Testing
import TestSupport

@Suite(.serialized, .realPeers) struct PhoneUITests {
    @Test func theWindowShowsLimitedModeAndRecoveryLive() async throws {
        let root = SIPCheckCommandTests.root
        let artifacts = root.appendingPathComponent(".build/ui-artifacts")
        // Debian's python3-selenium belongs to /usr/bin/python3 (another python3 may come first on PATH).
        let test = try ExternalProcess("/usr/bin/python3", [root.appendingPathComponent("Tests/ui/phone_ui_test.py").path,
                                                            "--holdfast", MediaInteropTests.holdfast, "--artifacts", artifacts.path], name: "phone-ui")
        let status = try await test.waitForExit(within: 240)
        #expect(status == 0, "the UI test failed (screenshots in \(artifacts.path)):\n\(test.outputTail(6000))")
        #expect(FileManager.default.fileExists(atPath: artifacts.appendingPathComponent("3-limited-functionality.png").path))
    }
}
