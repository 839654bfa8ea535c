import Foundation

/// A one-line progress bar on standard error, for long work on a terminal.
final class ProgressBar: @unchecked Sendable {  // drawn from one task at a time
    var total: Int
    let label: String
    let enabled: Bool
    let started = Date()
    var lastDraw = Date.distantPast

    init(total: Int, label: String, enabled: Bool) {
        self.total = total
        self.label = label
        self.enabled = enabled
    }

    /// Progress towards a total that is learnt along the way.
    func update(_ done: Int, of total: Int) {
        self.total = max(total, done)
        update(done)
    }

    func update(_ done: Int) {
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
        lastDraw = Date()
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let rate = Double(done) / max(Date().timeIntervalSince(started), 0.001)
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total)  \(Int(rate))/s".utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
