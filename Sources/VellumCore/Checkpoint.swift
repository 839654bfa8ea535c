@preconcurrency import Crypto

/// A writer's signed statement over a run of its own feed (`EntryKind.checkpoint`), so that a
/// replica catching up checks one signature for a hundred entries instead of one each.
///
/// A checkpoint at seq n covers the `covers` entries before it. Its payload holds SHA-256 over
/// their signatures (64 bytes each, in seq order); its id covers that digest and its `prev`,
/// which links by id through every covered entry. So one valid signature on the checkpoint
/// fixes the covered entries' fields (each id is SHA-256 of them) and their signature bytes:
/// no relay can change either without breaking a link or the digest. What it does not show is
/// that each covered signature verifies: that is the writer's word, and only the holder of the
/// feed's key could have made it false (Docs/LEDGER.md, "Checkpoints"). `vellum audit` still
/// checks every signature.
public struct CheckpointPayload: Sendable, Hashable {
    /// How many entries before this one it covers.
    public let covers: Int
    /// SHA-256 over the covered entries' signatures, concatenated in seq order.
    public let signatures: [UInt8]

    /// Writers place a checkpoint at every seq that is a multiple of this, covering the entries
    /// since the previous one; a catch-up asks for runs that end on these seqs.
    public static let interval: UInt64 = 100
    /// The most entries one checkpoint may cover: what checking it costs is bounded.
    public static let maximumCovers = 4096

    public init(covering signatures: [[UInt8]]) {
        covers = signatures.count
        self.signatures = Self.digest(signatures)
    }

    public static func digest(_ signatures: some Sequence<[UInt8]>) -> [UInt8] {
        var hash = SHA256()
        for s in signatures { hash.update(data: s) }
        return Array(hash.finalize())
    }

    /// Whether the writer puts a checkpoint at `seq`.
    public static func isDue(at seq: UInt64) -> Bool { seq % interval == 0 }

    public var json: JSON { ["covers": .number(Double(covers)), "signatures": .string(Hex.encode(signatures))] }

    public init(json: JSON) throws(VellumError) {
        if let extra = json.objectValue?.keys.first(where: { $0 != "covers" && $0 != "signatures" }) {
            throw VellumError(.invalidEntry, "checkpoint payload has unknown field '\(extra)'")
        }
        guard let n = json["covers"]?.numberValue, n >= 1, n <= Double(Self.maximumCovers), n == n.rounded() else {
            throw VellumError(.invalidEntry, "checkpoint 'covers' is not an integer from 1 to \(Self.maximumCovers)")
        }
        guard let hex = json["signatures"]?.stringValue, hex.utf8.count == 64, let digest = Hex.decode(hex) else {
            throw VellumError(.invalidEntry, "checkpoint 'signatures' is not 64 hex digits")
        }
        covers = Int(n)
        signatures = digest
    }
}

extension EntryVerifier {
    /// The entries of a batch whose signatures a checkpoint in the same batch vouches for: the
    /// checkpoint's own signature verifies, every entry it covers is in the batch, each links
    /// to the next by its claimed id, and the digest of their signatures is the checkpoint's.
    /// (`verifyContents` still checks each claimed id against the entry's fields, so a claimed
    /// id that lies fails there.) Returns the positions in `entries` to skip signatures for.
    public static func vouched(_ entries: [Entry]) -> Set<Int> {
        var at: [FeedKey: [UInt64: Int]] = [:]
        for (i, e) in entries.enumerated() where at[e.feed]?[e.seq] == nil { at[e.feed, default: [:]][e.seq] = i }
        var vouched: Set<Int> = []
        for (i, c) in entries.enumerated() where c.kind == .checkpoint {
            guard case .checkpoint(let payload)? = try? EntryPayload(kind: .checkpoint, bytes: c.payload),
                UInt64(payload.covers) < c.seq, c.unsigned.id == c.id,
                let key = try? Curve25519.Signing.PublicKey(rawRepresentation: c.feed.bytes),
                key.isValidSignature(c.signature, for: c.id.bytes),
                let positions = at[c.feed]
            else { continue }
            var covered: [Int] = []
            var next = c
            for seq in stride(from: c.seq - 1, through: c.seq - UInt64(payload.covers), by: -1) {
                guard let j = positions[seq], entries[j].id == next.prev else { break }
                covered.append(j)
                next = entries[j]
            }
            guard covered.count == payload.covers,
                CheckpointPayload.digest(covered.reversed().map { entries[$0].signature }) == payload.signatures
            else { continue }
            vouched.formUnion(covered)
            vouched.insert(i)
        }
        return vouched
    }
}
