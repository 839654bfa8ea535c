import Dispatch
import Foundation
import VellumCore
import VellumNode

/// Recent status answers, kept while their issuer's feed does not move. Outside a federation,
/// only the issuer's feed can change a credential's status, so an answer whose issuer head is
/// still the same has the same evidence; what is redone per request is cheap: which feeds
/// issued the id and how current the issuer's is (one narrow query), expiry at the current
/// time, and writing the bytes. An answer not kept is read in one query too
/// (`LedgerQueries.askedRecord`). Bounded with two generations: answers go into
/// `recent`; when it is full it becomes `older` (the previous `older` is dropped), and an
/// answer found in `older` moves back to `recent`. Recently asked credentials stay; the rest
/// age out, and no request pays more than a constant.
final class StatusCache: @unchecked Sendable {  // `recent` and `older` are guarded by `lock`
    /// What an answer keeps: everything but the time and the freshness, its evidence already
    /// serialized.
    private struct Item {
        /// The issuer's head the answer was read at. The answer holds while the issuer that the
        /// same query chooses now has this very head: the same feed, not moved since.
        let head: FeedHead
        let resolution: CredentialResolution
        let issuer: String?
        let validUntil: String?
        let evidenceJSON: [UInt8]
    }

    private let lock = NSLock()
    private var recent: [Asked: Item] = [:]
    private var older: [Asked: Item] = [:]
    /// Answers per generation: at most twice this many are held.
    let generation: Int

    init(generation: Int = 25_000) { self.generation = generation }

    private func lookup(_ asked: Asked) -> Item? {
        let (item, dropped) = lock.withLock { () -> (Item?, [Asked: Item]) in
            if let item = recent[asked] { return (item, [:]) }
            guard let item = older.removeValue(forKey: asked) else { return (nil, [:]) }
            return (item, insert(asked, item))
        }
        release(dropped)
        return item
    }

    /// Frees an aged-out generation off the request's thread: tens of thousands of answers take
    /// milliseconds to free, which would otherwise stall every request queued behind this one.
    private func release(_ dropped: [Asked: Item]) {
        guard !dropped.isEmpty else { return }
        DispatchQueue.global(qos: .utility).async { withExtendedLifetime(dropped) {} }
    }

    /// Call with `lock` held. Returns the generation that aged out, for the caller to release
    /// after unlocking.
    private func insert(_ asked: Asked, _ item: Item) -> [Asked: Item] {
        var dropped: [Asked: Item] = [:]
        if recent.count >= generation {
            dropped = older
            older = recent
            recent = [:]
            recent.reserveCapacity(generation)
        }
        recent[asked] = item
        return dropped
    }

    /// What a query named: a credential id, and its issuer's feed if the query named one.
    /// Answers are kept by what was asked, so that finding one needs no query: a bare id's
    /// issuer is worked out again (`askedIssuerHeld`) before its answer is used.
    private struct Asked: Hashable {
        let id: String
        let issuer: FeedKey?

        static func == (a: Asked, b: Asked) -> Bool { a.issuer == b.issuer && a.id.hasSameUTF8(as: b.id) }
        func hash(into hasher: inout Hasher) {
            hasher.combine(issuer)
            id.hashUTF8(into: &hasher)
        }
    }

    /// The current status answer's bytes, or nil for an unknown credential. `issuer` as in
    /// `LedgerQueries.status(of:issuer:at:)`: a credential is its issuer and its id.
    /// Its reads share one snapshot of the ledger, so an answer is never kept under a head
    /// newer than the state it reports.
    func answer(_ id: String, issuer: String?, node: some LedgerQueries) throws -> [UInt8]? {
        try node.store.read { () throws(VellumError) -> [UInt8]? in try snapshotAnswer(id, issuer: issuer, node: node) }
    }

    private func snapshotAnswer(_ id: String, issuer: String?, node: some LedgerQueries) throws(VellumError) -> [UInt8]? {
        try CredentialID.validate(id)
        let asked = Asked(id: id, issuer: try issuer.map { (did) throws(VellumError) in try node.issuerFeed(did) })
        // In a federation, a sibling campus's feed can change the status too, and the answer
        // carries the trust path: no shortcut by the issuer's head.
        if node.federationID != nil {
            guard let report = try node.askedStatus(id, issuer: asked.issuer), report.status != .unknown else { return nil }
            return report.canonicalBytes
        }
        if let item = lookup(asked), let held = try node.askedIssuerHeld(id, issuer: asked.issuer), held.head == item.head {
            let now = node.now()
            return StatusReport.canonicalBytes(
                asOf: node.freshness(held), at: now, evidenceJSON: item.evidenceJSON, id: id, issuer: item.issuer,
                status: item.resolution.status(at: now), validUntil: item.validUntil)
        }
        guard let record = try node.askedRecord(id, issuer: asked.issuer) else { return nil }
        let report = try node.report(record)
        let evidenceJSON = report.evidenceJSON
        release(lock.withLock {
            insert(
                asked,
                Item(head: record.held.head, resolution: record.resolution, issuer: report.issuer, validUntil: report.validUntil, evidenceJSON: evidenceJSON))
        })
        return StatusReport.canonicalBytes(
            asOf: report.asOf, at: report.at, evidenceJSON: evidenceJSON, id: id, issuer: report.issuer, status: report.status,
            validUntil: report.validUntil)
    }
}
