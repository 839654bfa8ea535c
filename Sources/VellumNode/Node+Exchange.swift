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
    /// Importing the same entries again changes nothing. In a federation, a file whose feeds
    /// do not act for a member (an outsider's export) is refused whole.
    public func importEntries(_ entries: [Entry]) async throws -> ImportReport {
        let verified = try await EntryVerifier.verifyContents(entries)
        try refuseOutsiders(verified)
        return try importVerified(verified)
    }

    /// In a federation: refuses a file holding entries of a feed that does not act for a
    /// current member, even counting the file's own documents. A member's export carries its
    /// delegations and admissions, so only an outsider's is refused.
    func refuseOutsiders(_ entries: [VerifiedEntry]) throws {
        guard let registry = try registry() else { return }
        let documents = entries.compactMap { e -> PublishedDocument? in
            guard case .document(let d) = e.payload else { return nil }
            return PublishedDocument(document: d, feed: e.feed, seq: e.seq, entry: e.id)
        }
        let combined = documents.isEmpty ? registry : FederationRegistry(federationID: registry.federationID, documents: try store.documents() + documents)
        var heads: [FeedKey: UInt64] = [:]
        for e in entries where e.kind != .document { heads[e.feed] = max(heads[e.feed] ?? 0, e.seq) }
        for (feed, seq) in heads.sorted(by: { $0.key < $1.key }) {
            // A member's campus counts, even one cut off (its entries are kept as evidence and
            // count for nothing after the cut); a feed of no member's is an outsider's.
            guard case .untrusted(let reason) = combined.authority(of: feed, seq: seq) else { continue }
            throw VellumError(.unauthorized, "refused whole, nothing imported: \(feed.didKey.did) does not act for a member of \(registry.name): \(reason)")
        }
    }

    /// In a federation: refuses documents of another federation (a genesis that is not this
    /// federation's, a proposal for another), which no replica of this federation stores.
    func refuseForeignDocuments(_ entries: [VerifiedEntry]) throws {
        guard let federationID else { return }
        for e in entries {
            guard case .document(let d) = e.payload else { continue }
            switch d {
            case .genesis(let g, _) where g.federationID != federationID:
                throw VellumError(.unauthorized, "entry \(e.id): a genesis of another federation (\(g.name), \(g.federationID))")
            case .proposal(let p, _) where p.federation != federationID:
                throw VellumError(.unauthorized, "entry \(e.id): a proposal for another federation (\(p.federation))")
            default: continue
            }
        }
    }

    /// The second half of an import, for entries whose contents are already verified (the
    /// replicator verifies off its actor): links them to the held chains and stores them.
    ///
    /// An entry that differs from the one held at its (feed, seq) proves that the feed's writer
    /// signed two histories: the pair is kept as fork evidence, the feed quarantined, and that
    /// feed's entries left out, as gossip does. The rest of the import goes ahead, so one
    /// equivocating writer cannot make an honest file (or peer) unimportable.
    public func importVerified(_ contents: [VerifiedEntry]) throws -> ImportReport {
        try refuseForeignDocuments(contents)
        let (report, stored) = try store.transaction { () throws -> (ImportReport, [LinkedEntry]) in
            let quarantined = try store.quarantinedFeeds()
            let kept = contents.filter { !quarantined.contains($0.feed) }
            let linking = try EntryVerifier.link(kept, heads: try store.heads(), knownID: { feed, seq in try? store.entryID(feed: feed, seq: seq) })
            for fork in linking.forks {
                let (feed, seq) = (fork.theirs.feed, fork.theirs.seq)
                let held = try store.entry(feed: feed, seq: seq) ?? kept.first { $0.feed == feed && $0.seq == seq && $0.id == fork.held }?.entry
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
            return (ImportReport(
                received: contents.count, added: verified.count, feeds: Set(verified.map(\.feed)).count, forks: forked,
                setAside: contents.count { quarantined.contains($0.feed) || forked.contains($0.feed) }), verified)
        }
        try republishListsChanged(bySiblings: stored)
        return report
    }
}
