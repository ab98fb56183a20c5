// The softphone's window: static HTML, CSS and JavaScript shipped with the program (no build
// step, no network), served by the phone's local API and kept live through /api/events.

import Foundation

public enum PhoneUI {
    public struct File: Sendable {
        public let data: Data
        public let contentType: String
    }

    /// The UI's files by path (`/`, `/app.js`, `/style.css`).
    public static let files: [String: File] = {
        var files: [String: File] = [:]
        for (path, name, ext, type) in [("/", "index", "html", "text/html; charset=utf-8"), ("/app.js", "app", "js", "text/javascript; charset=utf-8"),
                                        ("/style.css", "style", "css", "text/css; charset=utf-8")] {
            if let url = Bundle.module.url(forResource: name, withExtension: ext), let data = try? Data(contentsOf: url) {
                files[path] = File(data: data, contentType: type)
            }
        }
        return files
    }()
}
