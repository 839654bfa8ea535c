import Dispatch
import Foundation
import VellumCore
import VellumNode

/// Recent status answers, kept while their issuer's feed does not move. Outside a federation,
/// only the issuer's feed can change a credential's status, so an answer whose issuer head is still the same has the
/// same evidence; what is redone per request is cheap: which feeds issued a bare id and the
/// issuer's freshness (two indexed reads, in one snapshot), expiry at the current time, and
/// writing the bytes. Bounded with two generations: answers go into
/// `recent`; when it is full it becomes `older` (the previous `older` is dropped), and an
/// answer found in `older` moves back to `recent`. Recently asked credentials stay; the rest
/// age out, and no request pays more than a constant.
final class StatusCache: @unchecked Sendable {  // `recent` and `older` are guarded by `lock`
    /// What an answer keeps: everything but the time and the freshness, its evidence already
    /// serialized.
    private struct Item {
        let head: FeedHead
        let resolution: CredentialResolution
        let issuer: String?
        let validUntil: String?
        let evidenceJSON: [UInt8]
    }

    private let lock = NSLock()
    private var recent: [CredentialKey: Item] = [:]
    private var older: [CredentialKey: Item] = [:]
    /// Answers per generation: at most twice this many are held.
    let generation: Int

    init(generation: Int = 25_000) { self.generation = generation }

    private func lookup(_ id: CredentialKey) -> Item? {
        let (item, dropped) = lock.withLock { () -> (Item?, [CredentialKey: Item]) in
            if let item = recent[id] { return (item, [:]) }
            guard let item = older.removeValue(forKey: id) else { return (nil, [:]) }
            return (item, insert(id, item))
        }
        release(dropped)
        return item
    }

    /// Frees an aged-out generation off the request's thread: tens of thousands of answers take
    /// milliseconds to free, which would otherwise stall every request queued behind this one.
    private func release(_ dropped: [CredentialKey: Item]) {
        guard !dropped.isEmpty else { return }
        DispatchQueue.global(qos: .utility).async { withExtendedLifetime(dropped) {} }
    }

    /// Call with `lock` held. Returns the generation that aged out, for the caller to release
    /// after unlocking.
    private func insert(_ id: CredentialKey, _ item: Item) -> [CredentialKey: Item] {
        var dropped: [CredentialKey: Item] = [:]
        if recent.count >= generation {
            dropped = older
            older = recent
            recent = [:]
            recent.reserveCapacity(generation)
        }
        recent[id] = item
        return dropped
    }

    /// The current status answer's bytes, or nil for an unknown credential. `issuer` as in
    /// `LedgerQueries.credentialKey`: a credential is its issuer and its id, and answers are kept by both.
    /// Its reads share one snapshot of the ledger, so an answer is never cached under a head
    /// newer than the state it reports.
    func answer(_ id: String, issuer: String?, node: some LedgerQueries) throws -> [UInt8]? {
        try node.store.read { () throws(VellumError) -> [UInt8]? in try snapshotAnswer(id, issuer: issuer, node: node) }
    }

    private func snapshotAnswer(_ id: String, issuer: String?, node: some LedgerQueries) throws(VellumError) -> [UInt8]? {
        guard let key = try node.credentialKey(id, issuer: issuer) else { return nil }
        // In a federation, a sibling campus's feed can change the status too, and the answer
        // carries the trust path: no shortcut by the issuer's head.
        if node.federationID != nil {
            let report = try node.status(of: key)
            return report.status == .unknown ? nil : report.canonicalBytes
        }
        if let item = lookup(key), let fresh = try node.freshness(of: item.head.feed), fresh.head == item.head {
            let now = node.now()
            return StatusReport.canonicalBytes(
                asOf: fresh, at: now, evidenceJSON: item.evidenceJSON, id: id, issuer: item.issuer,
                status: item.resolution.status(at: now), validUntil: item.validUntil)
        }
        let report = try node.status(of: key)
        guard let head = report.asOf?.head, let resolution = report.resolution else { return nil }  // unknown
        let evidenceJSON = report.evidenceJSON
        release(lock.withLock {
            insert(key, Item(head: head, resolution: resolution, issuer: report.issuer, validUntil: report.validUntil, evidenceJSON: evidenceJSON))
        })
        return StatusReport.canonicalBytes(
            asOf: report.asOf, at: report.at, evidenceJSON: evidenceJSON, id: id, issuer: report.issuer, status: report.status,
            validUntil: report.validUntil)
    }
}
