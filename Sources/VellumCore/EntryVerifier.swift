@preconcurrency import Crypto

/// The only way into the ledger: checks an entry's id, signature, payload, authorization and
/// its link to the feed's previous entry, and returns a `VerifiedEntry`.
public enum EntryVerifier {
    /// Checks everything that depends on the entry alone: id, signature, payload and that the
    /// feed is allowed to write it (the issuer of an issue entry is the feed's own did:key).
    public static func verifyContents(_ entry: Entry) throws(VellumError) -> VerifiedEntry {
        let u = entry.unsigned
        guard u.seq >= 1 else { throw VellumError(.invalidEntry, "entry \(entry.id): seq must start at 1") }
        guard u.payload.count <= UnsignedEntry.maximumPayloadSize else {
            throw VellumError(.invalidEntry, "entry \(entry.id): payload exceeds \(UnsignedEntry.maximumPayloadSize) bytes")
        }
        if u.seq == 1, u.prev != .zero {
            throw VellumError(.invalidEntry, "entry \(entry.id): seq 1 must have the zero prev")
        }
        guard u.id == entry.id else {
            throw VellumError(.invalidEntry, "entry \(entry.id): id does not match the SHA-256 of its fields")
        }
        guard entry.signature.count == 64,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: entry.feed.bytes),
            key.isValidSignature(entry.signature, for: entry.id.bytes)
        else { throw VellumError(.invalidEntry, "entry \(entry.id): signature does not verify with feed \(entry.feed)") }
        let payload = try EntryPayload(kind: u.kind, bytes: u.payload)
        let feedDID = entry.feed.didKey.did
        switch payload {
        case .issue(let issue):
            guard issue.issuer == feedDID else {
                throw VellumError(.unauthorized, "entry \(entry.id): issuer \(issue.issuer) is not the feed's key \(feedDID)")
            }
        case .statusList(let list):
            guard list.name.issuer.did == feedDID else {
                throw VellumError(.unauthorized, "entry \(entry.id): status list \(list.name) belongs to another issuer than the feed's key \(feedDID)")
            }
            let proof: DataIntegrity.VerifiedProof
            do { proof = try DataIntegrity.verify(list.credential) } catch {
                throw VellumError(.invalidEntry, "entry \(entry.id): status list proof: \(error.message)")
            }
            guard proof.signer.did == feedDID else {
                throw VellumError(.unauthorized, "entry \(entry.id): status list signed by \(proof.signer.did), not the feed's key")
            }
        case .status:
            break
        }
        return VerifiedEntry(entry: entry, payload: payload)
    }

    /// Verifies a run of entries of any feeds against the heads a replica already holds.
    /// Entries already held (same id at a held seq) are skipped; each feed's new entries must
    /// continue its chain without gaps. Signatures are checked on every core in parallel.
    /// A status entry about a credential whose issue is known (held, or in this run) must come
    /// from the issuing feed. Throws on the first bad entry, so a caller stores all or nothing.
    public static func verify(
        _ entries: [Entry], heads: [FeedKey: FeedHead], knownID: (FeedKey, UInt64) -> EntryID?,
        issuerFeed: (String) -> FeedKey? = { _ in nil }
    ) throws(VellumError) -> [VerifiedEntry] {
        try link(try verifyContents(entries), heads: heads, knownID: knownID, issuerFeed: issuerFeed)
    }

    /// `verifyContents` for a batch, on every core; throws the first failure in batch order.
    public static func verifyContents(_ entries: [Entry]) throws(VellumError) -> [VerifiedEntry] {
        let results = Parallel.map(entries) { entry -> Result<VerifiedEntry, VellumError> in
            do throws(VellumError) { return .success(try verifyContents(entry)) } catch { return .failure(error) }
        }
        var verified: [VerifiedEntry] = []
        verified.reserveCapacity(entries.count)
        for result in results { verified.append(try result.get()) }
        return verified
    }

    /// The checks that depend on what a replica already holds: authorization of status changes
    /// and chain continuity against the feed heads. Returns the entries not yet held.
    public static func link(
        _ verified: [VerifiedEntry], heads: [FeedKey: FeedHead], knownID: (FeedKey, UInt64) -> EntryID?,
        issuerFeed: (String) -> FeedKey? = { _ in nil }
    ) throws(VellumError) -> [VerifiedEntry] {
        // Authorization of status changes.
        var issuedHere: [String: FeedKey] = [:]
        for v in verified where v.kind == .issue { issuedHere[v.credentialID] = v.feed }
        for v in verified where v.kind.changesStatus {
            if let issuer = issuedHere[v.credentialID] ?? issuerFeed(v.credentialID), issuer != v.feed {
                throw VellumError(.unauthorized, "entry \(v.id): feed \(v.feed) may not \(v.kind) \(v.credentialID), issued by feed \(issuer)")
            }
        }

        // Then chain links, per feed in seq order.
        var byFeed: [FeedKey: [VerifiedEntry]] = [:]
        for v in verified { byFeed[v.feed, default: []].append(v) }
        var accepted: [VerifiedEntry] = []
        for (feed, run) in byFeed.sorted(by: { $0.key < $1.key }) {
            var head = heads[feed]
            var seen: [UInt64: EntryID] = [:]
            for v in run.sorted(by: { $0.seq < $1.seq }) {
                if let held = seen[v.seq] ?? knownID(feed, v.seq) {
                    guard held == v.id else {
                        throw VellumError(.conflict, "fork: feed \(feed) seq \(v.seq) has entries \(held) and \(v.id)")
                    }
                    continue
                }
                let expectedSeq = (head?.seq ?? 0) + 1
                guard v.seq == expectedSeq else {
                    throw VellumError(.invalidEntry, "entry \(v.id): feed \(feed) seq \(v.seq) does not follow seq \(expectedSeq - 1)")
                }
                guard v.entry.prev == (head?.id ?? .zero) else {
                    throw VellumError(.invalidEntry, "entry \(v.id): prev does not link to feed \(feed) seq \(expectedSeq - 1)")
                }
                head = FeedHead(feed: feed, seq: v.seq, id: v.id)
                seen[v.seq] = v.id
                accepted.append(v)
            }
        }
        return accepted
    }
}
