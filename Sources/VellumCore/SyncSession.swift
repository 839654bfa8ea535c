/// What a sync with one peer moved.
public struct SyncReport: Sendable, Equatable {
    public var pulled = 0
    public var pushed = 0
    public var roundTrips = 0
    public var bytesSent = 0
    public var bytesReceived = 0
    public var forks = 0

    public init() {}

    public var json: JSON {
        [
            "pulled": .number(Double(pulled)), "pushed": .number(Double(pushed)), "roundTrips": .number(Double(roundTrips)),
            "bytesSent": .number(Double(bytesSent)), "bytesReceived": .number(Double(bytesReceived)),
            "forks": .number(Double(forks)),
        ]
    }
}

/// What a session may read of the local replica. Reads only: every change it wants made comes
/// back as a `SyncSession.Directive` for the shell to carry out, so a test can stand in an
/// in-memory replica and check each decision without sockets or SQLite.
public protocol SyncReplica {
    func heads() throws(VellumError) -> [FeedKey: FeedHead]
    /// One feed's head, if any of its entries is held.
    func head(of feed: FeedKey) throws(VellumError) -> FeedHead?
    func entry(feed: FeedKey, seq: UInt64) throws(VellumError) -> Entry?
    func quarantinedFeeds() throws(VellumError) -> Set<FeedKey>
    /// Fork evidence held: pairs of entries at one (feed, seq).
    func forks() throws(VellumError) -> [(Entry, Entry)]
    /// Entries for the ranges, at most one message's worth.
    func entries(for ranges: [WantRange]) throws(VellumError) -> [Entry]
}

/// The client side of one reconciliation round with one peer, as a value: exchange heads,
/// prove forks, gossip fork evidence, pull in batches (at most one `WANT` in flight, and up to
/// `batchesAhead` received batches waiting while one is stored), offer what the peer lacks and
/// push the part it wants, and mark caught up only the feeds that this peer's own `HEADS`
/// vouched for. It does no
/// I/O: each event returns directives, and the shell (`Replicator`) sends, stores and reports
/// back.
///
/// The session owns its request ids: a reply whose id it did not issue, or that was already
/// answered, is refused (`.drop`), and a reply of the wrong kind for its request fails the
/// round. The shell binds a session to one connection, so no other peer can answer for it.
public struct SyncSession: Sendable {
    public enum Directive: Sendable, Equatable {
        /// Send this request on the session's connection.
        case send(SyncMessage, requestID: UInt32)
        /// Verify and store these entries, then call `onStored(added:)`.
        case store([Entry])
        /// Keep this pair as fork evidence (the first is ours) and quarantine its feed.
        case recordFork(Entry, Entry)
        /// This node holds everything the peer holds of these feeds (their `heardAt`).
        case markHeard([FeedKey])
        /// Entries moved so far, of the entries to move.
        case progress(moved: Int, of: Int)
        /// A reply was refused and changed nothing; count it against the peer under `reason`
        /// (`unsolicited-reply`: an id this session did not issue or already saw answered;
        /// `wrong-reply`: a reply of the wrong kind, or with entries not asked for).
        case drop(reason: String, message: String)
        /// The round is over.
        case finished(SyncReport)
        /// The round failed; nothing more will come of it (`io`: no answer in time;
        /// `invalidInput`: the peer refused a request or broke the protocol).
        case fail(VellumError)
    }

    /// What a request in flight expects as its answer.
    enum Expectation: Sendable, Equatable {
        case heads
        /// The answer to our `SUMMARY`: the peer's heads in the buckets that differ.
        case headsIn
        case suspect(FeedHead)
        case forkEvidence
        case want([WantRange])
        /// The answer to our `OFFER`: which of these ranges the peer wants.
        case offer([WantRange])
        case push(Int)

        var request: String {
            switch self {
            case .heads: "HEADS"
            case .headsIn: "SUMMARY"
            case .suspect, .want: "WANT"
            case .offer: "OFFER"
            case .forkEvidence: "FORK"
            case .push: "ENTRIES"
            }
        }
    }

    enum Phase: Sendable, Equatable { case idle, heads, suspects, gossip, pull, push, done }

    public static let batchLimit = UInt32(SyncMessage.maxEntriesPerMessage)
    /// Batches received and waiting for the store, at most. While fewer wait, the next WANT
    /// goes out: the shell verifies a waiting batch while the one before it is stored, so a
    /// catch-up stores without pausing for verification (or for the network).
    static let batchesAhead = 2
    /// Fork evidence sent per round, and divergent heads fetched per round.
    public static let maxEvidencePerRound = 8
    public static let maxSuspectsPerRound = 16

    private var nextID: UInt32
    private var outstanding: [UInt32: Expectation] = [:]
    private(set) var phase = Phase.idle
    private var theirs: [FeedHead] = []
    private let summarize: Bool
    private var suspects: [FeedHead] = []
    private var evidence: [(Entry, Entry)] = []
    /// Forks this round proved (the shell records them; they go out with the held evidence).
    private var proven: [(Entry, Entry)] = []
    private var projected: [FeedKey: FeedHead] = [:]
    /// Our stored heads when the pull began.
    private var stored: [FeedKey: FeedHead] = [:]
    private var excluded: Set<FeedKey> = []
    /// Feeds the peer wanted none of when offered: not offered again this round.
    private var declined: Set<FeedKey> = []
    /// Whether pushes are offered first; false once the peer answered an `OFFER` as malformed
    /// (a node from before `OFFER`): then they go unannounced.
    public private(set) var offers: Bool
    private var pullStopped = false
    private var storing = false
    private var received: [[Entry]] = []
    public private(set) var report = SyncReport()
    /// Entries the peer has that we lack, and the reverse, as the heads first showed.
    public private(set) var toPull = 0
    public private(set) var toPush = 0

    /// `firstRequestID` should be unpredictable (the shell draws it at random); ids then count
    /// up from it, skipping 0.
    /// `summarize`: open with a `SUMMARY` of our heads, answered with the peer's heads in the
    /// buckets that differ (none when in sync), as the replicator does; otherwise with every
    /// head (`HEADS`), as a reader that holds little may.
    /// `offers`: false for a peer known to refuse `OFFER` (the shell remembers, so that an older
    /// node counts the unknown message against us once, not every round).
    public init(firstRequestID: UInt32, summarize: Bool = false, offers: Bool = true) {
        nextID = firstRequestID
        self.summarize = summarize
        self.offers = offers
    }

    public var isFinished: Bool { phase == .done }
    /// Whether the round is pulling entries (a reply now is a batch to store).
    public var isPulling: Bool { phase == .pull }

    /// Opens the round: our heads.
    public mutating func start(_ replica: some SyncReplica) throws(VellumError) -> [Directive] {
        guard phase == .idle else { return [] }
        phase = .heads
        let heads = try replica.heads().values.sorted { $0.feed < $1.feed }
        if summarize { return [send(.summary(HeadsSummary(heads)), expecting: .headsIn)] }
        return [send(.heads(heads), expecting: .heads)]
    }

    /// A reply arrived on the session's connection.
    public mutating func onReply(requestID: UInt32, message: SyncMessage, replica: some SyncReplica) throws(VellumError) -> [Directive] {
        guard phase != .done, let expected = outstanding.removeValue(forKey: requestID) else {
            return [.drop(reason: "unsolicited-reply", message: "\(message.name) reply to request \(requestID), which this session did not send or already saw answered")]
        }
        if case .error(let code, let text) = message {
            // Evidence is a courtesy: a peer may refuse it without failing the round.
            if expected == .forkEvidence { return try nextEvidence(replica) }
            if case .offer(let offered) = expected, code == 400 {
                offers = false
                return try push(offered, replica)
            }
            return fail(VellumError(.invalidInput, "peer refused \(expected.request) (\(code)): \(text)"))
        }
        switch (expected, message) {
        case (.heads, .heads(let heads)):
            return try compare(heads, replica)
        case (.headsIn, .headsIn(let buckets, let heads)):
            // Outside the buckets the peer named, its heads are ours: their digests matched.
            let same = try replica.heads().values.filter { buckets & HeadsSummary.bit($0.feed) == 0 }
            return try compare((heads + same).sorted { $0.feed < $1.feed }, replica)
        case (.suspect(let head), .entries(let got)):
            var out: [Directive] = []
            if let theirEntry = got.first, got.count == 1, theirEntry.feed == head.feed, theirEntry.seq == head.seq,
                let mine = try replica.entry(feed: head.feed, seq: head.seq), (try? Reconciliation.verifyFork(mine, theirEntry)) != nil
            {
                out.append(.recordFork(mine, theirEntry))
                proven.append((mine, theirEntry))
                report.forks += 1
            } else if got.count > 1 || got.contains(where: { $0.feed != head.feed || $0.seq != head.seq }) {
                return violation("peer answered WANT(\(head.feed.hex.prefix(16)), \(head.seq), 1) with other entries")
            }
            return out + (try nextSuspect(replica))
        case (.forkEvidence, .heads):
            return try nextEvidence(replica)
        case (.want(let ranges), .entries(let entries)):
            guard Self.entries(entries, answer: ranges) else { return violation("peer answered WANT with entries it was not asked for") }
            guard !entries.isEmpty, !pullStopped else {
                pullStopped = true
                return try pumpPull(replica)
            }
            for e in entries where e.seq > (projected[e.feed]?.seq ?? 0) {
                projected[e.feed] = FeedHead(feed: e.feed, seq: e.seq, id: e.id)
            }
            received.append(entries)
            return try pumpPull(replica)
        case (.offer(let offered), .want(let wanted)):
            guard Self.ranges(wanted, within: offered) else { return violation("peer answered OFFER with ranges it was not offered") }
            declined.formUnion(Set(offered.map(\.feed)).subtracting(wanted.map(\.feed)))
            // Nothing wanted: offer the feeds past that offer's cap, if any (each offer declined
            // whole shrinks what is left, so this ends).
            return wanted.isEmpty ? try nextPush(replica) : try push(wanted, replica)
        case (.push(let count), .heads(let updated)):
            // The peer answers with its heads of the feeds pushed (an older one, with all).
            var merged = Dictionary(theirs.map { ($0.feed, $0) }, uniquingKeysWith: { a, _ in a })
            var progressed = false
            for h in updated where h.seq > merged[h.feed]?.seq ?? 0 {
                merged[h.feed] = h
                progressed = true
            }
            theirs = merged.values.sorted { $0.feed < $1.feed }
            report.pushed += count
            var out: [Directive] = [.progress(moved: report.pulled + report.pushed, of: toPull + toPush)]
            if progressed { out += try nextPush(replica) } else { out += try finish(replica) }
            return out
        default:
            return violation("peer answered \(expected.request) with \(message.name)")
        }
    }

    /// The shell stored the last `.store` batch; `added` entries were new.
    public mutating func onStored(added: Int, replica: some SyncReplica) throws(VellumError) -> [Directive] {
        guard phase == .pull, storing else { return [] }
        storing = false
        report.pulled += added
        if added == 0 {
            // Nothing new came of a batch (replays, or a peer repeating itself): stop asking.
            pullStopped = true
            received.removeAll()
        }
        return [.progress(moved: report.pulled + report.pushed, of: toPull + toPush)] + (try pumpPull(replica))
    }

    /// A request went unanswered within the shell's deadline.
    public mutating func onTimeout(requestID: UInt32) -> [Directive] {
        guard phase != .done, let expected = outstanding[requestID] else { return [] }
        return fail(VellumError(.io, "no answer to \(expected.request)"))
    }

    /// Whether an OFFER's answer asks only for parts of the ranges offered (one per feed), at
    /// most one per feed.
    public static func ranges(_ wanted: [WantRange], within offered: [WantRange]) -> Bool {
        let byFeed = Dictionary(offered.map { ($0.feed, $0) }, uniquingKeysWith: { first, _ in first })
        return Set(wanted.map(\.feed)).count == wanted.count && wanted.allSatisfy { w in
            guard let o = byFeed[w.feed] else { return false }
            return w.limit > 0 && w.fromSeq >= o.fromSeq && w.fromSeq + UInt64(w.limit) <= o.fromSeq + UInt64(o.limit)
        }
    }

    /// Whether a WANT's answer holds only entries of the ranges asked for (looked up by feed:
    /// a WANT may name thousands of feeds).
    public static func entries(_ entries: [Entry], answer ranges: [WantRange]) -> Bool {
        let byFeed = Dictionary(grouping: ranges, by: \.feed)
        return entries.allSatisfy { e in
            byFeed[e.feed]?.contains { r in e.seq >= r.fromSeq && e.seq - r.fromSeq < UInt64(r.limit) } ?? false
        }
    }

    // MARK: steps

    /// The peer's heads arrived: find suspects, then pull and push.
    private mutating func compare(_ heads: [FeedHead], _ replica: some SyncReplica) throws(VellumError) -> [Directive] {
        theirs = heads
        // Each suspect costs a round trip: a peer that claims many divergent heads gets a
        // few checked per round, not a round that never ends.
        suspects = Array(Reconciliation.divergent(remote: heads, localID: { try? replica.entry(feed: $0, seq: $1)?.id }).prefix(Self.maxSuspectsPerRound))
        phase = .suspects
        return try nextSuspect(replica)
    }


    private mutating func send(_ message: SyncMessage, expecting: Expectation) -> Directive {
        if nextID == 0 { nextID = 1 }  // 0 is what a confused peer would answer with
        let id = nextID
        nextID &+= 1
        outstanding[id] = expecting
        report.roundTrips += 1
        return .send(message, requestID: id)
    }

    private mutating func fail(_ error: VellumError) -> [Directive] {
        phase = .done
        outstanding.removeAll()
        return [.fail(error)]
    }

    /// A reply that breaks the protocol: counted against the peer, and the round is over.
    private mutating func violation(_ text: String) -> [Directive] {
        [.drop(reason: "wrong-reply", message: text)] + fail(VellumError(.invalidInput, text))
    }

    /// One divergent head at a time: fetch the peer's entry there and check the pair.
    private mutating func nextSuspect(_ replica: some SyncReplica) throws(VellumError) -> [Directive] {
        guard suspects.isEmpty else {
            let head = suspects.removeFirst()
            return [send(.want([WantRange(feed: head.feed, fromSeq: head.seq, limit: 1)]), expecting: .suspect(head))]
        }
        let local = try replica.heads()
        let remoteSeqs = Dictionary(theirs.map { ($0.feed, $0.seq) }, uniquingKeysWith: max)
        toPull = theirs.reduce(0) { sum, h in sum + Int(h.seq - min(h.seq, local[h.feed]?.seq ?? 0)) }
        toPush = local.values.reduce(0) { sum, h in sum + Int(h.seq - min(h.seq, remoteSeqs[h.feed] ?? 0)) }
        // Fork evidence travels with every round, newest first and at most
        // `maxEvidencePerRound` pairs (one per feed; receivers keep one copy per feed).
        phase = .gossip
        let held = try replica.forks()
        let heldFeeds = Set(held.map(\.0.feed))
        evidence = Array((proven.filter { !heldFeeds.contains($0.0.feed) } + held).prefix(Self.maxEvidencePerRound))
        return try nextEvidence(replica)
    }

    private mutating func nextEvidence(_ replica: some SyncReplica) throws(VellumError) -> [Directive] {
        guard evidence.isEmpty else {
            let (a, b) = evidence.removeFirst()
            return [send(.fork(a, b), expecting: .forkEvidence)]
        }
        phase = .pull
        stored = try replica.heads()
        projected = stored
        excluded = try replica.quarantinedFeeds().union(proven.map(\.0.feed))
        return try pumpPull(replica)
    }

    /// Hands the next received batch to the store, asks for the next one meanwhile (up to
    /// `batchesAhead` waiting), and moves on to pushing once nothing is in flight and nothing
    /// is left to ask for.
    private mutating func pumpPull(_ replica: some SyncReplica) throws(VellumError) -> [Directive] {
        var stores: [Directive] = []
        while !storing, !received.isEmpty {
            let (clean, forks) = try Reconciliation.screen(received.removeFirst(), against: replica, excluding: excluded)
            for (mine, theirs) in forks {
                stores.append(.recordFork(mine, theirs))
                report.forks += 1
                excluded.insert(mine.feed)
            }
            if clean.isEmpty {
                pullStopped = true
                received.removeAll()
            } else {
                stores.append(.store(clean))
                storing = true
            }
        }
        let wantInFlight = outstanding.values.contains { if case .want = $0 { true } else { false } }
        var sends: [Directive] = []
        if !pullStopped, !wantInFlight, received.count < Self.batchesAhead {
            let wants = Reconciliation.wants(local: projected, remote: theirs, limit: Self.batchLimit, quarantined: excluded)
                .map { $0.overlapping(stored[$0.feed], projected: projected[$0.feed]) }
            if wants.isEmpty { pullStopped = true } else { sends.append(send(.want(wants), expecting: .want(wants))) }
        }
        // The next request goes out before the store starts, so the peer reads while we write.
        var out = sends + stores
        if pullStopped, !storing, !wantInFlight, received.isEmpty, sends.isEmpty {
            out += try nextPush(replica)
        }
        return out
    }

    /// Offers what the peer lacked when it last told us its heads, less what it declined: it
    /// answers with what it still wants (none of what it holds, is storing or has just asked a
    /// peer for), and only that is pushed. At most one message's worth of feeds is offered.
    private mutating func nextPush(_ replica: some SyncReplica) throws(VellumError) -> [Directive] {
        phase = .push
        let skipped = try replica.quarantinedFeeds().union(excluded).union(declined)
        let gives = Array(Reconciliation.gives(local: try replica.heads(), remote: theirs, limit: Self.batchLimit, quarantined: skipped)
            .prefix(SyncMessage.maxEntriesPerMessage))
        guard !gives.isEmpty else { return try finish(replica) }
        guard offers else { return try push(gives, replica) }
        return [send(.offer(gives), expecting: .offer(gives))]
    }

    private mutating func push(_ ranges: [WantRange], _ replica: some SyncReplica) throws(VellumError) -> [Directive] {
        let batch = ranges.isEmpty ? [] : try replica.entries(for: ranges)
        guard !batch.isEmpty else { return try finish(replica) }
        return [send(.entries(batch), expecting: .push(batch.count))]
    }

    /// Feeds where this peer's own heads are not ahead of ours are caught up.
    private mutating func finish(_ replica: some SyncReplica) throws(VellumError) -> [Directive] {
        phase = .done
        let held = try replica.heads()
        let heard = theirs.filter { $0.seq <= held[$0.feed]?.seq ?? 0 }.map(\.feed)
        return (heard.isEmpty ? [] : [.markHeard(heard)]) + [.finished(report)]
    }
}

extension WantRange {
    /// The first range of a feed in a round also asks for the entry we hold at our head. A peer
    /// whose chain of that feed diverged from ours (its writer signed two histories) then
    /// answers with a different entry at that seq, which `Reconciliation.screen` proves to be a
    /// fork; without it, the peer's next entry would merely fail to link, and the feed would
    /// stall with nothing to show why. An honest peer's copy is the one we hold, and is skipped.
    func overlapping(_ stored: FeedHead?, projected: FeedHead?) -> WantRange {
        guard let stored, stored == projected, fromSeq == stored.seq + 1, limit < UInt32.max else { return self }
        return WantRange(feed: feed, fromSeq: stored.seq, limit: limit + 1)
    }
}

extension Reconciliation {
    /// Splits received entries into those to verify and store, and fork evidence: an entry at
    /// a (feed, seq) where we hold a different one, proven by checking both. Entries we already
    /// hold (the same id: the same fields, already verified) cost nothing more, and entries of
    /// quarantined feeds and of feeds found forked in this batch are left out.
    public static func screen(
        _ entries: [Entry], against replica: some SyncReplica, excluding: Set<FeedKey> = []
    ) throws(VellumError) -> (clean: [Entry], forks: [(Entry, Entry)]) {
        var skipped = excluding.union(try replica.quarantinedFeeds())
        var held: Set<EntryID> = []
        var forks: [(Entry, Entry)] = []
        // A replica holds each feed's entries 1...head without gaps: only an entry at or below
        // the feed's head can be held (in a catch-up, only the one a pull overlaps the head with).
        var heldUpTo: [FeedKey: UInt64] = [:]
        for e in entries where !skipped.contains(e.feed) {
            if heldUpTo[e.feed] == nil { heldUpTo[e.feed] = try replica.head(of: e.feed)?.seq ?? 0 }
            guard e.seq <= heldUpTo[e.feed]!, let mine = try replica.entry(feed: e.feed, seq: e.seq) else { continue }
            if mine.id == e.id {
                held.insert(e.id)
            } else if (try? verifyFork(mine, e)) != nil {
                forks.append((mine, e))
                skipped.insert(e.feed)
            }
        }
        return (entries.filter { !skipped.contains($0.feed) && !held.contains($0.id) }, forks)
    }
}
