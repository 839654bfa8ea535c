import Foundation
import VellumCore
import VellumStore

/// Export and import: the offline sync path (a file carried between campuses).
///
/// The file is JSON Lines: a header `{"format":"vellum-export","version":1}`, one entry per line
/// (`Entry.json`), and a trailer `{"end":true,"entries":N}` so a truncated file is detected.
extension Node {
    public static let exportFormat = "vellum-export"

    /// Writes every entry of every feed, in arrival order.
    public func export(_ write: (String) throws -> Void) throws -> Int {
        try write(JSON.object(["format": .string(Node.exportFormat), "version": 1]).canonicalString + "\n")
        var count = 0
        try store.forEachEntry { entry in
            try write(entry.json.canonicalString + "\n")
            count += 1
        }
        try write(JSON.object(["end": true, "entries": .number(Double(count))]).canonicalString + "\n")
        return count
    }

    /// Parses an export file; any fault names its line.
    public static func parseExport(_ text: String, file: String) throws(VellumError) -> [Entry] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        func parse(_ i: Int) throws(VellumError) -> JSON {
            do { return try JSON(parsing: String(lines[i])) } catch {
                throw VellumError(.invalidInput, "\(file):\(i + 1): \(error)")
            }
        }
        guard !lines.isEmpty, (try? parse(0))?["format"]?.stringValue == exportFormat else {
            throw VellumError(.invalidInput, "\(file):1: not a Vellum export (no vellum-export header)")
        }
        guard lines.count >= 2, let end = try? parse(lines.count - 1), end["end"] == true,
            let count = end["entries"]?.numberValue
        else { throw VellumError(.invalidInput, "\(file): truncated (no end line)") }
        guard count == Double(lines.count - 2) else {
            throw VellumError(.invalidInput, "\(file): the end line promises \(ES6Number.format(count)) entries, the file holds \(lines.count - 2)")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(lines.count - 2)
        for i in 1..<(lines.count - 1) {
            do throws(VellumError) { entries.append(try Entry(json: try parse(i))) } catch {
                throw VellumError(.invalidInput, "\(file):\(i + 1): \(error.message)")
            }
        }
        return entries
    }

    /// What an import or sync brought in.
    public struct ImportReport: Sendable {
        public let received: Int
        public let added: Int
        public let feeds: Int
        /// Feeds this import proved forked (a different entry at a seq we hold): the pair is
        /// kept as evidence and the feed quarantined; none of its entries were stored.
        public var forks: [FeedKey] = []
        /// Entries of forked or quarantined feeds, not stored.
        public var setAside = 0

        public var json: JSON {
            [
                "received": .number(Double(received)), "added": .number(Double(added)), "alreadyHeld": .number(Double(received - added - setAside)),
                "feeds": .number(Double(feeds)), "setAside": .number(Double(setAside)), "forks": .array(forks.map { .string($0.didKey.did) }),
            ]
        }
    }

    /// Verifies every entry first, then merges them in one transaction: all or nothing.
    /// Importing the same entries again changes nothing.
    public func importEntries(_ entries: [Entry]) async throws -> ImportReport {
        try importVerified(try await EntryVerifier.verifyContents(entries))
    }

    /// The second half of an import, for entries whose contents are already verified (the
    /// replicator verifies off its actor): links them to the held chains and stores them.
    ///
    /// An entry that differs from the one held at its (feed, seq) proves that the feed's writer
    /// signed two histories: the pair is kept as fork evidence, the feed quarantined, and that
    /// feed's entries left out, as gossip does. The rest of the import goes ahead, so one
    /// equivocating writer cannot make an honest file (or peer) unimportable.
    public func importVerified(_ contents: [VerifiedEntry]) throws -> ImportReport {
        try store.transaction {
            let quarantined = try store.quarantinedFeeds()
            let kept = contents.filter { !quarantined.contains($0.feed) }
            let linking = try EntryVerifier.link(kept, heads: try store.heads(), knownID: { feed, seq in try? store.entryID(feed: feed, seq: seq) })
            for fork in linking.forks {
                let held = try store.entry(id: fork.held) ?? kept.first { $0.id == fork.held }?.entry
                if let held { try store.addFork(held, fork.theirs.entry, at: clock().millisecondsSinceEpoch) }
            }
            let verified = linking.linked
            try store.append(verified)
            // Our clock moves past everything we have seen (HLC receive).
            if let newest = verified.map(\.hlc).max() {
                let stored = HLC(rawValue: UInt64(try store.meta("clock") ?? "0") ?? 0)
                try store.setMeta("clock", String(stored.receive(newest, now: clock()).rawValue))
            }
            let forked = linking.forks.map(\.theirs.feed)
            return ImportReport(
                received: contents.count, added: verified.count, feeds: Set(verified.map(\.feed)).count, forks: forked,
                setAside: contents.count { quarantined.contains($0.feed) || forked.contains($0.feed) })
        }
    }
}
