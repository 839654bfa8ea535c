import Dispatch
import Foundation
import Metrics
import VellumCore
import VellumNode
import VellumStore

/// Recent status answers, kept while their issuer's feed does not move. Outside a federation,
/// only the issuer's feed can change a credential's status, so an answer whose issuer head is
/// still the same has the same evidence; what is redone per request is cheap: which feeds
/// issued the id and how current the issuer's is (one narrow query), expiry at the current
/// time, and writing the bytes. An answer not kept is read in one query too
/// (`LedgerQueries.askedRecord`). Bounded with two generations: answers go into `recent`;
/// when it is full (in answers, or in bytes of evidence) it becomes `older` (the previous
/// `older` is dropped), and an answer found in `older` moves back to `recent`. Recently
/// asked credentials stay; the rest age out, and no request pays more than a constant.
/// An answer is kept from its second reading on (`readLately`): verifiers asking about ids
/// spread over a large ledger would otherwise fill the cache with answers never asked again,
/// and pay for copying each one in and, a generation later, for freeing it.
///
/// While nothing at all is committed to the ledger, not even that narrow query is needed:
/// an answer confirmed by it is given again as long as the ledger's data version (SQLite's,
/// read on a connection of the cache's own) is the one read before that query's snapshot
/// (`keptAnswer`). That check is a read transaction with no query, short enough to run where
/// the request arrived, without the hop to a handler thread: it does not wait out another
/// connection's lock (SQLite's busy timeout is 0 there), only other requests' checks on the
/// cache's one connection, each a single pragma (`NSLock` is not fair, so possibly several).
/// Left alone: SQLite itself retries the start of a read, with short sleeps, while a WAL
/// index is being rebuilt, and a check caught in that holds the requests queued behind it.
final class StatusCache: @unchecked Sendable {  // `recent`, `older`, `recentBytes` and `readLately` are guarded by `lock`, the connection of `versionReader` by `versionLock`
    /// What an answer keeps: everything but the time and the freshness, its evidence already
    /// serialized.
    private struct Item {
        /// The issuer's feed as held when the answer was last confirmed. The answer holds while
        /// the issuer that the same query chooses now has this very head: the same feed, not
        /// moved since.
        let held: HeldFeed
        /// The data version `versionReader` read just before the snapshot that last confirmed the
        /// answer, nil if none was read: while the ledger's data version is still this one,
        /// nothing was committed since, and the answer holds with `held` as it is.
        let dataVersion: Int64?
        let resolution: CredentialResolution
        let issuer: String?
        let validUntil: String?
        let evidenceJSON: [UInt8]

        func confirmed(_ held: HeldFeed, at dataVersion: Int64?) -> Item {
            Item(held: held, dataVersion: dataVersion, resolution: resolution, issuer: issuer, validUntil: validUntil, evidenceJSON: evidenceJSON)
        }
    }

    private let lock = NSLock()
    private var recent: [Asked: Item] = [:]
    private var older: [Asked: Item] = [:]
    /// Answers per generation: at most twice this many are held.
    let generation: Int
    /// Bytes of evidence per generation: a generation that would pass it ages out, so at most
    /// about twice this many are held. Anyone can sign entries of up to 64 KiB about ids of
    /// their own and ask for them, so the count alone would not bound the memory.
    let generationBytes: Int
    private var recentBytes = 0
    /// What was read lately: the hash of what was asked, in the slot its low bits name
    /// (512 KiB). An answer read while its hash is already there is kept (so one that aged out
    /// is kept again at its next reading); a later hash in the same slot only costs that answer
    /// one more reading.
    private var readLately: [Int]
    /// A read-only view of the ledger whose connection serves only to read its data version
    /// (versions read on one connection compare, those of different connections do not); its
    /// clock and feed give a kept answer's time and freshness.
    private let versionReader: LedgerReader
    private let versionLock = NSLock()
    private let answeredWithoutRead = Counter(label: "vellum_http_status_answers_without_read_total")

    init(
        path: String, clock: @escaping @Sendable () -> Timestamp = Node.systemClock, generation: Int = 25_000, generationBytes: Int = 64 << 20,
        readLatelySlots: Int = 1 << 16
    ) throws {
        precondition(readLatelySlots > 0 && readLatelySlots & (readLatelySlots - 1) == 0, "a power of two")
        self.generation = generation
        self.generationBytes = generationBytes
        readLately = Array(repeating: 0, count: readLatelySlots)
        versionReader = try LedgerReader(path: path, clock: clock)
        versionReader.store.waitWhenBusy(milliseconds: 0)  // busy (a recovery, a lock): read the answer instead
    }

    /// The ledger's data version now; nil if SQLite was busy (the answer is then read from the
    /// ledger, as any other). The lock is held for this one read.
    private func dataVersion() -> Int64? { versionLock.withLock { try? versionReader.store.dataVersion() } }

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

    /// Keeps `item` if it replaces a kept answer or if what was asked was read lately;
    /// else only notes that it was read.
    private func keep(_ asked: Asked, _ item: Item, replacing: Bool) {
        let hash = asked.hashValue
        let dropped = lock.withLock { () -> [Asked: Item] in
            let slot = hash & (readLately.count - 1)
            guard replacing || readLately[slot] == hash else {
                readLately[slot] = hash
                return [:]
            }
            return insert(asked, item)
        }
        release(dropped)
    }

    /// Call with `lock` held. Returns the generation that aged out, for the caller to release
    /// after unlocking.
    private func insert(_ asked: Asked, _ item: Item) -> [Asked: Item] {
        var dropped: [Asked: Item] = [:]
        let size = item.evidenceJSON.count
        if recent.count >= generation || recentBytes + size > generationBytes {
            dropped = older
            older = recent
            recent = [:]
            recent.reserveCapacity(generation)
            recentBytes = 0
        }
        if let replaced = recent.updateValue(item, forKey: asked) { recentBytes -= replaced.evidenceJSON.count }
        recentBytes += size
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

    /// The answer kept for what was asked, if nothing was committed to the ledger since it was
    /// last confirmed: no read of the ledger but its data version, so it may run where the
    /// request arrived. Nil: read it (`answer`). Never in a federation, where no answer is kept.
    func keptAnswer(_ id: String, issuer: String?) -> [UInt8]? {
        guard versionReader.federationID == nil,
            let asked = try? Asked(id: id, issuer: issuer.map { (did) throws(VellumError) in try versionReader.issuerFeed(did) }),
            let item = lookup(asked), let tag = item.dataVersion, tag == dataVersion()
        else { return nil }
        answeredWithoutRead.increment()
        return bytes(item, held: item.held, id: id, node: versionReader)
    }

    /// The current status answer's bytes, or nil for an unknown credential. `issuer` as in
    /// `LedgerQueries.status(of:issuer:at:)`: a credential is its issuer and its id.
    /// Its reads share one snapshot of the ledger, so an answer is never kept under a head
    /// newer than the state it reports. `node` must be outside any transaction: its read takes
    /// a snapshot of its own, after the data version an answer is confirmed at.
    func answer(_ id: String, issuer: String?, node: LedgerReader) throws -> [UInt8]? {
        precondition(!node.store.inTransaction, "a status answer's snapshot must begin after its data version")
        try CredentialID.validate(id)
        let asked = Asked(id: id, issuer: try issuer.map { (did) throws(VellumError) in try node.issuerFeed(did) })
        // In a federation, a sibling campus's feed can change the status too, and the answer
        // carries the trust path: no shortcut by the issuer's head.
        if node.federationID != nil {
            return try node.store.read { () throws(VellumError) -> [UInt8]? in
                guard let report = try node.askedStatus(id, issuer: asked.issuer), report.status != .unknown else { return nil }
                return report.canonicalBytes
            }
        }
        // Read before the snapshot begins, the version can only be older than the snapshot's:
        // an answer confirmed under it is never taken for one newer than it is.
        let kept = lookup(asked)
        let tag = kept == nil ? nil : dataVersion()
        return try node.store.read { () throws(VellumError) -> [UInt8]? in
            if let kept, let held = try node.askedIssuerHeld(id, issuer: asked.issuer), held.head == kept.held.head {
                release(lock.withLock { insert(asked, kept.confirmed(held, at: tag)) })
                return bytes(kept, held: held, id: id, node: node)
            }
            guard let record = try node.askedRecord(id, issuer: asked.issuer) else { return nil }
            let report = try node.report(record)
            let item = Item(
                held: record.held, dataVersion: nil, resolution: record.resolution, issuer: report.issuer, validUntil: report.validUntil,
                evidenceJSON: report.evidenceJSON)
            keep(asked, item, replacing: kept != nil)
            return StatusReport.canonicalBytes(
                asOf: report.asOf, at: report.at, evidenceJSON: item.evidenceJSON, id: id, issuer: report.issuer, status: report.status,
                validUntil: report.validUntil)
        }
    }

    /// A kept answer's bytes, at the current time, with `held`'s freshness.
    private func bytes(_ item: Item, held: HeldFeed, id: String, node: LedgerReader) -> [UInt8] {
        let now = node.now()
        return StatusReport.canonicalBytes(
            asOf: node.freshness(held), at: now, evidenceJSON: item.evidenceJSON, id: id, issuer: item.issuer,
            status: item.resolution.status(at: now), validUntil: item.validUntil)
    }
}
