@preconcurrency import Crypto

/// The replication protocol's messages (Docs/PROTOCOL.md). Every message is two ZeroMQ
/// frames: a 6-byte header (version, type, request id) and a body. Pure: no sockets here.
public enum SyncMessage: Sendable, Equatable {
    /// "These are the heads of the feeds I hold." Request: answer with your heads.
    case heads([FeedHead])
    /// "Send me entries of these feeds from these seqs."
    case want([WantRange])
    /// Entries, in seq order per feed: a reply to `want`, or a push (answered with `heads`).
    case entries([Entry])
    /// Two valid entries with the same feed and seq: portable proof of equivocation.
    case fork(Entry, Entry)
    /// A refusal, with a code and a message.
    case error(code: UInt16, message: String)
    /// "A digest of the heads I hold": its root and bucket digests. Answered with `headsIn`.
    case summary(HeadsSummary)
    /// "My heads in these buckets (a bit each of 64)": the reply to a `summary`, naming the
    /// buckets whose digests differ (none between replicas in sync: one round trip of about
    /// 600 bytes), so the cost follows the feeds that differ, not all of them.
    case headsIn(buckets: UInt64, [FeedHead])
    /// "I can send you these ranges of feeds you lack" (a push, announced). Answered with
    /// `want`: the parts of them the node still wants, none where it holds them, is storing
    /// them or has just asked a peer for them; then the wanted entries follow as a pushed
    /// `entries`.
    case offer([WantRange])

    public static let version: UInt8 = 1
    /// Limits a peer must respect: larger messages are refused before anything in them is
    /// decoded, which bounds the work one message can cost (verification is linear in bytes).
    public static let maxEntriesPerMessage = 2000
    public static let maxBytesPerMessage = 4 << 20
    public static let maxFeedsPerMessage = 65536
    /// An ERROR's text is for a log line: a longer one is cut (sending) or refused (receiving).
    public static let maxErrorBytes = 1000

    public var type: UInt8 {
        switch self {
        case .heads: 1
        case .want: 2
        case .entries: 3
        case .fork: 4
        case .error: 5
        case .summary: 6
        case .headsIn: 7
        case .offer: 8
        }
    }

    public var name: String {
        switch self {
        case .heads: "HEADS"
        case .want: "WANT"
        case .entries: "ENTRIES"
        case .fork: "FORK"
        case .error: "ERROR"
        case .summary: "SUMMARY"
        case .headsIn: "HEADS-IN"
        case .offer: "OFFER"
        }
    }

    public func frames(requestID: UInt32) -> [[UInt8]] {
        var header = ByteWriter()
        header.uint8(SyncMessage.version)
        header.uint8(type)
        header.uint32(requestID)
        var body = ByteWriter()
        switch self {
        case .heads(let heads):
            body.heads(heads)
        case .headsIn(let buckets, let heads):
            body.uint64(buckets)
            body.heads(heads)
        case .summary(let summary):
            body.append(summary.root)
            for b in summary.buckets { body.append(b) }
        case .want(let ranges), .offer(let ranges):
            body.uint32(UInt32(ranges.count))
            for r in ranges {
                body.append(r.feed.bytes)
                body.uint64(r.fromSeq)
                body.uint32(r.limit)
            }
        case .entries(let entries):
            // Sized once: a reply of 2,000 entries is over a megabyte, and growing it step by
            // step cost the serving side more than reading the entries.
            body.reserve(4 + entries.reduce(0) { $0 + 4 + $1.wireSize })
            body.uint32(UInt32(entries.count))
            for e in entries {
                let bytes = e.wireBytes
                body.uint32(UInt32(bytes.count))
                body.append(bytes)
            }
        case .fork(let a, let b):
            for e in [a, b] {
                let bytes = e.wireBytes
                body.uint32(UInt32(bytes.count))
                body.append(bytes)
            }
        case .error(let code, let message):
            body.uint32(UInt32(code))
            // At most `maxErrorBytes`, cut between characters so that it decodes back the same.
            var text = Substring(message)
            while text.utf8.count > SyncMessage.maxErrorBytes { text = text.dropLast() }
            body.append(Array(text.utf8))
        }
        return [header.bytes, body.bytes]
    }

    /// How many bytes at the end of `text` begin a UTF-8 character they do not finish (a
    /// sender that cut its text inside a character, as nodes before `maxErrorBytes` did): a
    /// lead byte followed by fewer continuation bytes than it announces. 0 if none.
    static func incompleteTail(_ text: [UInt8]) -> Int {
        for back in stride(from: 1, through: min(3, text.count), by: 1) {  // none for an empty text
            let byte = text[text.count - back]
            if byte & 0xC0 == 0x80 { continue }  // a continuation byte: look further back
            guard (0xC2...0xF4).contains(byte) else { return 0 }  // no lead byte: not a cut character
            let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
            return length > back ? back : 0
        }
        return 0
    }

    /// The request id of a message whose header frame has the 6-byte layout every version
    /// keeps, even if the rest does not parse: a refusal then names the request it refuses.
    public static func requestID(in frames: [[UInt8]]) -> UInt32? {
        guard let header = frames.first, header.count == 6 else { return nil }
        return header[2...5].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Decodes a message; anything malformed throws a reason (the caller logs and counts it).
    public static func decode(_ frames: [[UInt8]]) throws(VellumError) -> (requestID: UInt32, message: SyncMessage) {
        guard frames.count == 2 else { throw VellumError(.invalidInput, "expected 2 frames, got \(frames.count)") }
        guard frames[1].count <= maxBytesPerMessage else {
            throw VellumError(.invalidInput, "the body is \(frames[1].count) bytes, over the limit of \(maxBytesPerMessage)")
        }
        var header = ByteReader(frames[0])
        guard frames[0].count == 6 else { throw VellumError(.invalidInput, "header is \(frames[0].count) bytes, not 6") }
        let version = try header.uint8()
        guard version == SyncMessage.version else { throw VellumError(.invalidInput, "unsupported protocol version \(version)") }
        let type = try header.uint8()
        let requestID = try header.uint32()
        var body = ByteReader(frames[1])
        func entry() throws(VellumError) -> Entry {
            let length = Int(try body.uint32())
            return try Entry(reading: &body, length: length)
        }
        let message: SyncMessage
        switch type {
        case 1:
            message = .heads(try body.heads())
        case 2, 8:
            let count = Int(try body.uint32())
            guard count <= maxFeedsPerMessage else { throw VellumError(.invalidInput, "too many ranges (\(count))") }
            var ranges: [WantRange] = []
            for _ in 0..<count {
                let range = WantRange(feed: try body.bytes32(), fromSeq: try body.uint64(), limit: try body.uint32())
                guard range.fromSeq >= 1, range.fromSeq <= UnsignedEntry.maximumSeq else {
                    throw VellumError(.invalidInput, "range start \(range.fromSeq) is not between 1 and 2^53")
                }
                ranges.append(range)
            }
            message = type == 2 ? .want(ranges) : .offer(ranges)
        case 3:
            let count = Int(try body.uint32())
            guard count <= maxEntriesPerMessage else { throw VellumError(.invalidInput, "too many entries (\(count))") }
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count { entries.append(try entry()) }
            message = .entries(entries)
        case 4:
            message = .fork(try entry(), try entry())
        case 5:
            let code = try body.uint32()
            let text = try body.bytes(frames[1].count - 4)
            guard text.count <= maxErrorBytes else { throw VellumError(.invalidInput, "ERROR text of \(text.count) bytes, over the limit of \(maxErrorBytes)") }
            guard let string = String(validating: text.dropLast(Self.incompleteTail(text)), as: UTF8.self) else {
                throw VellumError(.invalidInput, "ERROR text is not UTF-8")
            }
            message = .error(code: UInt16(truncatingIfNeeded: code), message: string)
        case 6:
            let root = try body.bytes(32)
            var buckets: [[UInt8]] = []
            for _ in 0..<HeadsSummary.bucketCount { buckets.append(try body.bytes(HeadsSummary.bucketDigestSize)) }
            message = .summary(HeadsSummary(root: root, buckets: buckets))
        case 7:
            let buckets = try body.uint64()
            let heads = try body.heads()
            guard heads.allSatisfy({ buckets & HeadsSummary.bit($0.feed) != 0 }) else {
                throw VellumError(.invalidInput, "HEADS-IN holds a head outside the buckets it names")
            }
            message = .headsIn(buckets: buckets, heads)
        default:
            throw VellumError(.invalidInput, "unknown message type \(type)")
        }
        guard body.isAtEnd else { throw VellumError(.invalidInput, "trailing bytes in \(message.name)") }
        return (requestID, message)
    }
}

extension ByteWriter {
    mutating func heads(_ heads: [FeedHead]) {
        reserve(4 + 72 * heads.count)
        uint32(UInt32(heads.count))
        for h in heads {
            append(h.feed.bytes)
            uint64(h.seq)
            append(h.id.bytes)
        }
    }
}

extension ByteReader {
    mutating func heads() throws(VellumError) -> [FeedHead] {
        let count = Int(try uint32())
        guard count <= SyncMessage.maxFeedsPerMessage else { throw VellumError(.invalidInput, "too many heads (\(count))") }
        var heads: [FeedHead] = []
        var seen: Set<FeedKey> = []
        for _ in 0..<count {
            let head = FeedHead(feed: FeedKey(try bytes(32))!, seq: try uint64(), id: EntryID(try bytes(32))!)
            guard head.seq >= 1, head.seq <= UnsignedEntry.maximumSeq else { throw VellumError(.invalidInput, "head seq \(head.seq) is not between 1 and 2^53") }
            guard seen.insert(head.feed).inserted else { throw VellumError(.invalidInput, "feed \(head.feed) has two heads") }
            heads.append(head)
        }
        return heads
    }
}

/// A digest of a replica's feed heads: feeds fall in 64 buckets by the top six bits of their
/// key; each bucket's digest is SHA-256 over its heads (feed ‖ seq ‖ id, in feed order), and
/// the root is SHA-256 over the 64 bucket digests. Equal roots: the replicas hold the same
/// heads, so the same entries. Different roots: the (truncated) bucket digests show which
/// buckets to compare head by head.
public struct HeadsSummary: Sendable, Equatable {
    public static let bucketCount = 64
    public static let bucketDigestSize = 8
    public let root: [UInt8]
    /// The first 8 bytes of each bucket's digest.
    public let buckets: [[UInt8]]

    public init(root: [UInt8], buckets: [[UInt8]]) {
        self.root = root
        self.buckets = buckets
    }

    public static func bucket(_ feed: FeedKey) -> Int { Int(feed.firstByte >> 2) }
    public static func bit(_ feed: FeedKey) -> UInt64 { 1 << UInt64(bucket(feed)) }

    /// The summary of `heads`, with its bucket digests.
    public init(_ heads: some Collection<FeedHead>) {
        var byBucket = [[FeedHead]](repeating: [], count: Self.bucketCount)
        for h in heads { byBucket[Self.bucket(h.feed)].append(h) }
        let digests = byBucket.map { bucket -> [UInt8] in
            var hash = SHA256()
            for h in bucket.sorted(by: { $0.feed < $1.feed }) {
                hash.update(data: h.feed.bytes)
                withUnsafeBytes(of: h.seq.bigEndian) { hash.update(bufferPointer: $0) }
                hash.update(data: h.id.bytes)
            }
            return Array(hash.finalize())
        }
        var root = SHA256()
        for d in digests { root.update(data: d) }
        self.init(root: Array(root.finalize()), buckets: digests.map { Array($0.prefix(Self.bucketDigestSize)) })
    }

    /// The buckets (a bit each) to compare head by head with `other`: none if the roots are
    /// equal; those whose digests differ; all if the roots differ but the (truncated) bucket
    /// digests do not.
    public func differing(from other: HeadsSummary) -> UInt64 {
        guard root != other.root else { return 0 }
        var mask: UInt64 = 0
        for i in 0..<Self.bucketCount where buckets[i] != other.buckets[i] { mask |= 1 << UInt64(i) }
        return mask == 0 ? .max : mask
    }
}

extension Reconciliation {
    /// The answer to a `SUMMARY`: our heads in the buckets that differ, and the feeds outside
    /// them, whose heads the peer holds as we do (caught up).
    public static func answer(_ theirs: HeadsSummary, heads: [FeedHead]) -> (reply: SyncMessage, caughtUp: [FeedKey]) {
        let buckets = HeadsSummary(heads).differing(from: theirs)
        let differ = { (h: FeedHead) in buckets & HeadsSummary.bit(h.feed) != 0 }
        return (.headsIn(buckets: buckets, heads.filter(differ)), heads.filter { !differ($0) }.map(\.feed))
    }
}

/// "Entries of `feed` from `fromSeq`, at most `limit` of them."
public struct WantRange: Sendable, Hashable {
    public let feed: FeedKey
    public let fromSeq: UInt64
    public let limit: UInt32

    public init(feed: FeedKey, fromSeq: UInt64, limit: UInt32) {
        self.feed = feed
        self.fromSeq = fromSeq
        self.limit = limit
    }
}

/// Reconciliation by feed heads: each feed is an append-only chain, so comparing heads
/// (72 bytes a feed) tells exactly which entries each side lacks. The cost grows with the
/// number of feeds and the difference, never with the size of the log.
public enum Reconciliation {
    /// What to ask the peer for. A range cut short by `limit` ends on a checkpoint position
    /// where one falls inside it, so the next range starts just after a checkpoint and every
    /// batch carries whole checkpointed runs (`EntryVerifier.vouched`).
    public static func wants(local: [FeedKey: FeedHead], remote: [FeedHead], limit: UInt32, quarantined: Set<FeedKey> = []) -> [WantRange] {
        remote.compactMap { r in
            let have = local[r.feed]?.seq ?? 0
            guard r.seq > have, !quarantined.contains(r.feed) else { return nil }
            return range(r.feed, after: have, through: r.seq, limit: limit)
        }.sorted { $0.feed < $1.feed }
    }

    /// A feed's entries after `have` up to `head`, at most `limit` of them; cut short, the range
    /// ends on a checkpoint position, so the next one starts a run.
    static func range(_ feed: FeedKey, after have: UInt64, through head: UInt64, limit: UInt32) -> WantRange {
        var count = min(UInt64(limit), head - have)
        let end = have + count
        if count < head - have, end % CheckpointPayload.interval < count { count -= end % CheckpointPayload.interval }
        return WantRange(feed: feed, fromSeq: have + 1, limit: UInt32(count))
    }

    /// The parts of an `OFFER` a node wants: each range from past the newest seq it holds of
    /// that feed (`held`); none of a feed in `skipping` (quarantined, or being stored or just
    /// asked for elsewhere: wanting what lies past that would leave a gap until it lands).
    public static func wanted(_ offered: [WantRange], held: [FeedKey: UInt64], skipping: Set<FeedKey>) -> [WantRange] {
        offered.compactMap { r in
            guard r.limit > 0, !skipping.contains(r.feed) else { return nil }
            let end = r.fromSeq + UInt64(r.limit) - 1
            let start = max(r.fromSeq, (held[r.feed] ?? 0) + 1)
            guard start <= end else { return nil }
            return WantRange(feed: r.feed, fromSeq: start, limit: UInt32(end - start + 1))
        }
    }

    /// What the peer lacks: what it would want of our heads, cut as `wants` cuts them (so a
    /// push batch holds whole checkpointed runs too).
    public static func gives(local: [FeedKey: FeedHead], remote: [FeedHead], limit: UInt32, quarantined: Set<FeedKey> = []) -> [WantRange] {
        let theirs = Dictionary(remote.map { ($0.feed, $0) }, uniquingKeysWith: { $0.seq >= $1.seq ? $0 : $1 })
        return wants(local: theirs, remote: Array(local.values), limit: limit, quarantined: quarantined)
    }

    /// Feeds where the peer's head is one we also hold a seq for, but with a different id:
    /// a fork, to be fetched and proven.
    public static func divergent(remote: [FeedHead], localID: (FeedKey, UInt64) -> EntryID?) -> [FeedHead] {
        remote.filter { r in
            guard let mine = localID(r.feed, r.seq) else { return false }
            return mine != r.id
        }
    }

    /// Checks fork evidence: two valid, different entries with the same feed and seq.
    public static func verifyFork(_ a: Entry, _ b: Entry) throws(VellumError) {
        guard a.feed == b.feed, a.seq == b.seq else { throw VellumError(.invalidEntry, "fork evidence names two different positions") }
        guard a.id != b.id else { throw VellumError(.invalidEntry, "fork evidence is one entry twice") }
        _ = try EntryVerifier.verifyContents(a)
        _ = try EntryVerifier.verifyContents(b)
    }
}
