// Lists stored as JSON text (a CDR's path, a binding's Path headers), written directly: a
// JSONEncoder per write cost more than the SQLite insert at thousands of writes a second. Read
// back through Codable like any JSON column.

import Foundation

enum JSONText {
    /// `strings` as a JSON array of strings.
    static func array(_ strings: [String]) -> String {
        var json = "["
        for (index, string) in strings.enumerated() {
            if index > 0 { json += "," }
            json += "\""
            for scalar in string.unicodeScalars {
                switch scalar {
                case "\"": json += "\\\""
                case "\\": json += "\\\\"
                case "\n": json += "\\n"
                case "\r": json += "\\r"
                case "\t": json += "\\t"
                case _ where scalar.value < 0x20: json += String(format: "\\u%04x", scalar.value)
                default: json.unicodeScalars.append(scalar)
                }
            }
            json += "\""
        }
        return json + "]"
    }
}
