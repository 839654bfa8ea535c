import Logging

/// How `vellum node` logs for the libraries it runs (the HTTP server, the service group):
/// warnings and worse, one line each on stderr in the node's own format (`logLine`). Metadata
/// is kept as it is set and written out only with a line: the HTTP server sets a request id
/// on every request, which `StreamLogHandler` wrote out as text at once, about 3% of a status
/// answer's CPU.
struct NodeLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata.merging(event.metadata ?? [:]) { $1 }
        if let error = event.error { all["error"] = "\(error)" }
        let details = all.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        logLine("\(label) \(event.level): \(event.message)\(details)")  // one line: `logLine` escapes
    }

    /// `text` with control and line-separating characters (a newline from a request, say)
    /// written as `\u{a}`: nothing a client sends can start a line of its own in the node's log.
    static func oneLine(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator: out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }
}
