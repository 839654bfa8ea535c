@preconcurrency import Crypto

/// The only way into the ledger: checks an entry's contents (`VerifiedEntry`), then its link
/// to the feed's previous entry on this replica (`LinkedEntry`, what storage accepts).
public enum EntryVerifier {
    /// Checks everything that depends on the entry alone: id, signature, payload and that the
    /// feed is allowed to write it (the issuer of an issue entry, and of a status list, is the
    /// feed's own did:key). A status entry always speaks of the feed's own credential
    /// (`VerifiedEntry.credentialKey`), so it needs no check here. `signatureVouched`: a
    /// checkpoint in the same batch vouches for the signature (`vouched`), so it is not checked.
    public static func verifyContents(_ entry: Entry, signatureVouched: Bool = false, feedDID: String? = nil) throws(VellumError) -> VerifiedEntry {
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
        if !signatureVouched {
            guard entry.signature.count == 64,
                let key = try? Curve25519.Signing.PublicKey(rawRepresentation: entry.feed.bytes),
                key.isValidSignature(entry.signature, for: entry.id.bytes)
            else { throw VellumError(.invalidEntry, "entry \(entry.id): signature does not verify with feed \(entry.feed)") }
        } else if entry.signature.count != 64 {
            throw VellumError(.invalidEntry, "entry \(entry.id): signature is \(entry.signature.count) bytes, not 64")
        }
        let payload = try EntryPayload(kind: u.kind, bytes: u.payload)
        let feedDID = feedDID ?? entry.feed.didKey.did
        switch payload {
        case .issue(let issue):
            guard issue.issuer.hasSameUTF8(as: feedDID) else {
                throw VellumError(.unauthorized, "entry \(entry.id): issuer \(issue.issuer) is not the feed's key \(feedDID)")
            }
        case .statusList(let list):
            guard list.name.issuer.publicKey == entry.feed.bytes else {
                throw VellumError(.unauthorized, "entry \(entry.id): status list \(list.name) belongs to another issuer than the feed's key \(feedDID)")
            }
            let proof: DataIntegrity.VerifiedProof
            do { proof = try DataIntegrity.verify(list.credential) } catch {
                throw VellumError(.invalidEntry, "entry \(entry.id): status list proof: \(error.message)")
            }
            guard proof.signer.publicKey == entry.feed.bytes else {
                throw VellumError(.unauthorized, "entry \(entry.id): status list signed by \(proof.signer.did), not the feed's key")
            }
        case .checkpoint(let c):
            guard UInt64(c.covers) < u.seq else {
                throw VellumError(.invalidEntry, "entry \(entry.id): checkpoint at seq \(u.seq) covers \(c.covers) entries before it")
            }
        case .status, .document:
            break  // a document's signatures are its organizations' (`FederationRegistry`)
        }
        return VerifiedEntry(entry: entry, payload: payload)
    }

    /// Verifies a run of entries of any feeds against the heads a replica already holds: the
    /// contents of each, then the chain links (`link`).
    public static func verify(
        _ entries: [Entry], heads: [FeedKey: FeedHead], knownID: (FeedKey, UInt64) -> EntryID?
    ) async throws(VellumError) -> [LinkedEntry] {
        let linking = try link(try await verifyContents(entries), heads: heads, knownID: knownID)
        if let fork = linking.forks.first {
            throw VellumError(.conflict, "fork: feed \(fork.theirs.feed) seq \(fork.theirs.seq) has entries \(fork.held) and \(fork.theirs.id)")
        }
        return linking.linked
    }

    /// What `link` found: the entries to store, and the forks.
    public struct Linking: Sendable {
        public var linked: [LinkedEntry] = []
        /// An entry that differs from the one held at its (feed, seq), stored or earlier in the
        /// batch: the feed's writer signed two histories. That feed's entries are left out.
        public var forks: [(held: EntryID, theirs: VerifiedEntry)] = []
    }

    /// `verifyContents` for a batch, on every core; throws the first failure in batch order.
    /// Signatures that a checkpoint in the batch vouches for are not checked one by one.
    public static func verifyContents(_ entries: [Entry]) async throws(VellumError) -> [VerifiedEntry] {
        let vouched = vouched(entries)
        var dids: [FeedKey: String] = [:]  // one base58 encoding per feed, not per entry
        for e in entries where dids[e.feed] == nil { dids[e.feed] = e.feed.didKey.did }
        let results = await Parallel.map(Array(entries.indices)) { [dids] i -> Result<VerifiedEntry, VellumError> in
            do throws(VellumError) {
                return .success(try verifyContents(entries[i], signatureVouched: vouched.contains(i), feedDID: dids[entries[i].feed]))
            } catch { return .failure(error) }
        }
        var verified: [VerifiedEntry] = []
        verified.reserveCapacity(entries.count)
        for result in results { verified.append(try result.get()) }
        return verified
    }

    /// Chain continuity against the feed heads a replica holds: each feed's new entries must
    /// follow its head without gaps. Returns the entries not yet held, and the forks found.
    /// `heads` and `knownID` describe one replica at one moment, which holds each feed's
    /// entries 1...head without gaps; `knownID` is asked only for a seq at or below the head.
    ///
    /// Nothing here depends on other feeds: whether an entry is stored never depends on which
    /// other feeds' entries a replica holds (or in which order they came). Who may change a
    /// credential's status is decided by the merge (`CredentialMerge`), from the set of entries.
    public static func link(
        _ verified: [VerifiedEntry], heads: [FeedKey: FeedHead], knownID: (FeedKey, UInt64) -> EntryID?
    ) throws(VellumError) -> Linking {
        var byFeed: [FeedKey: [VerifiedEntry]] = [:]
        for v in verified { byFeed[v.feed, default: []].append(v) }
        var result = Linking()
        feeds: for (feed, run) in byFeed.sorted(by: { $0.key < $1.key }) {
            var head = heads[feed]
            let heldUpTo = head?.seq ?? 0  // nothing past it is held: a catch-up asks `knownID` nothing
            var seen: [UInt64: EntryID] = [:]
            let start = result.linked.count
            for v in run.sorted(by: { $0.seq < $1.seq }) {
                if let held = seen[v.seq] ?? (v.seq <= heldUpTo ? knownID(feed, v.seq) : nil) {
                    guard held == v.id else {
                        result.forks.append((held, v))
                        result.linked.removeSubrange(start...)
                        continue feeds
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
                result.linked.append(LinkedEntry(v))
            }
        }
        return result
    }
}
