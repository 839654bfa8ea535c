@preconcurrency import Crypto
import Testing
import VellumCore
import VellumSimulation

/// A feed of `count` entries, signed by a fresh key (or `key`).
func feed(_ count: Int, key: Curve25519.Signing.PrivateKey = .init(), tag: String = "a") throws -> [Entry] {
    let did = try DIDKey(publicKey: Array(key.publicKey.rawRepresentation))
    var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
    let items: [(EntryKind, EntryPayload)] = (0..<count).map { (.issue, .issue(samplePayload("urn:uuid:\(tag)-\($0)", issuer: did.did))) }
    return writer.append(items, now: Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)).map(\.entry)
}

func heads(of entries: [Entry]) -> [FeedHead] {
    MemoryReplica(entries).heads().values.sorted { $0.feed < $1.feed }
}

/// The requests among directives: (request id, message).
func sent(_ directives: [SyncSession.Directive]) -> [(UInt32, SyncMessage)] {
    directives.compactMap { if case .send(let m, let id) = $0 { (id, m) } else { nil } }
}

@Suite("SyncSession: one reconciliation round as a pure state machine")
struct SyncSessionTests {
    @Test("a round that pulls: heads, one WANT, store, caught up")
    func pull() throws {
        let theirs = try feed(3)
        var local = MemoryReplica()
        var session = SyncSession(firstRequestID: 41)
        let opening = try session.start(local)
        #expect(opening == [.send(.heads([]), requestID: 41)])
        let want = try session.onReply(requestID: 41, message: .heads(heads(of: theirs)), replica: local)
        #expect(want == [.send(.want([WantRange(feed: theirs[0].feed, fromSeq: 1, limit: 3)]), requestID: 42)])
        let store = try session.onReply(requestID: 42, message: .entries(theirs), replica: local)
        #expect(store == [.store(theirs)])
        let added = local.apply(store)
        let end = try session.onStored(added: added ?? 0, replica: local)
        var report = SyncReport()
        report.pulled = 3
        report.roundTrips = 2
        #expect(end == [.progress(moved: 3, of: 3), .markHeard([theirs[0].feed]), .finished(report)])
        #expect(session.isFinished)
    }

    @Test("a feed whose writer signed two histories, diverging below our head: the overlap proves the fork, the other feeds are stored, nobody is blamed")
    func divergedBelowHead() throws {
        let stranger = Curve25519.Signing.PrivateKey()
        let ours = try feed(2, key: stranger, tag: "a")  // what we hold of the stranger's feed
        let relayed = try feed(4, key: stranger, tag: "b")  // what an honest peer holds of it
        let honest = try feed(3)
        var local = MemoryReplica(ours)
        var session = SyncSession(firstRequestID: 7)
        _ = try session.start(local)
        let want = sent(try session.onReply(requestID: 7, message: .heads(heads(of: relayed + honest)), replica: local))
        guard case .want(let ranges)? = want.first?.1 else { Issue.record("no WANT: \(want)"); return }
        // The stranger's range starts at the entry we hold at our head (seq 2), not after it.
        #expect(Set(ranges) == [WantRange(feed: ours[0].feed, fromSeq: 2, limit: 3), WantRange(feed: honest[0].feed, fromSeq: 1, limit: 3)])
        let reply = MemoryReplica(relayed + honest).entries(for: ranges)
        let directives = try session.onReply(requestID: want[0].0, message: .entries(reply), replica: local)
        #expect(directives == [.recordFork(ours[1], relayed[1]), .store(honest)])
        let added = local.apply(directives)
        let end = try session.onStored(added: added ?? 0, replica: local)
        #expect(!end.contains { if case .drop = $0 { true } else if case .fail = $0 { true } else { false } })
        #expect(local.quarantined == [ours[0].feed] && local.heads()[honest[0].feed]?.seq == 3)
        #expect(session.isFinished)
    }

    @Test("a reply with a request id the session did not issue (another link's, or one already answered) is refused")
    func foreignRequestID() throws {
        let theirs = try feed(2)
        let local = MemoryReplica()
        var mine = SyncSession(firstRequestID: 1000)
        var other = SyncSession(firstRequestID: 5000)
        let myID = sent(try mine.start(local))[0].0
        let otherID = sent(try other.start(local))[0].0
        // A forged HEADS, answering the other session's request: refused, nothing marked heard.
        let forged = try mine.onReply(requestID: otherID, message: .heads(heads(of: theirs)), replica: local)
        #expect(forged.count == 1)
        guard case .drop(let reason, _) = forged[0] else { Issue.record("not refused: \(forged)"); return }
        #expect(reason == "unsolicited-reply")
        // A forged ERROR does not tear the round down either.
        let error = try mine.onReply(requestID: myID &+ 7, message: .error(code: 500, message: "go away"), replica: local)
        guard case .drop? = error.first, error.count == 1 else { Issue.record("a forged ERROR was taken: \(error)"); return }
        #expect(!mine.isFinished)
        // The real reply still works; the same id again is refused.
        let want = try mine.onReply(requestID: myID, message: .heads(heads(of: theirs)), replica: local)
        #expect(sent(want).count == 1)
        let again = try mine.onReply(requestID: myID, message: .heads(heads(of: theirs)), replica: local)
        guard case .drop? = again.first else { Issue.record("a second answer to one request was taken"); return }
    }

    @Test("request ids skip 0, which a confused peer answers with")
    func idsSkipZero() throws {
        var session = SyncSession(firstRequestID: 0)
        #expect(sent(try session.start(MemoryReplica()))[0].0 == 1)
    }

    @Test("a HEADS reply to a WANT is a protocol error: counted and the round fails")
    func headsForWant() throws {
        let theirs = try feed(2)
        let local = MemoryReplica()
        var session = SyncSession(firstRequestID: 7)
        _ = try session.start(local)
        let want = try session.onReply(requestID: 7, message: .heads(heads(of: theirs)), replica: local)
        let id = sent(want)[0].0
        let out = try session.onReply(requestID: id, message: .heads(heads(of: theirs)), replica: local)
        guard case .drop(let reason, _)? = out.first, case .fail(let error)? = out.last else { Issue.record("\(out)"); return }
        #expect(reason == "wrong-reply" && error.code == .invalidInput)
        #expect(session.isFinished)
        // Entries not asked for are a protocol error too.
        var second = SyncSession(firstRequestID: 70)
        _ = try second.start(local)
        let wantAgain = try second.onReply(requestID: 70, message: .heads(heads(of: theirs)), replica: local)
        let stranger = try feed(1, tag: "x")
        let wrong = try second.onReply(requestID: sent(wantAgain)[0].0, message: .entries(stranger), replica: local)
        guard case .fail? = wrong.last else { Issue.record("entries of another feed were taken: \(wrong)"); return }
    }

    @Test("an ERROR reply or a timeout fails the round; a timeout of an answered request is ignored")
    func errorsAndTimeouts() throws {
        let local = MemoryReplica()
        var refused = SyncSession(firstRequestID: 1)
        _ = try refused.start(local)
        guard case .fail(let e)? = try refused.onReply(requestID: 1, message: .error(code: 503, message: "busy"), replica: local).last else {
            Issue.record("an ERROR did not fail the round"); return
        }
        #expect(e.message.contains("503"))
        var silent = SyncSession(firstRequestID: 1)
        _ = try silent.start(local)
        guard case .fail(let t)? = silent.onTimeout(requestID: 1).first else { Issue.record("a timeout did not fail the round"); return }
        #expect(t.code == .io)
        var answered = SyncSession(firstRequestID: 1)
        _ = try answered.start(local)
        _ = try answered.onReply(requestID: 1, message: .heads([]), replica: local)
        #expect(answered.onTimeout(requestID: 1).isEmpty)
    }

    @Test("pull in batches: the next WANT goes out before the store, and while a batch is stored at most two more wait, so one is verified meanwhile")
    func batching() throws {
        let theirs = try feed(Int(SyncSession.batchLimit) * 2 + 1)  // with its checkpoints: 2 batches and a few
        let total = theirs.count
        let rest = total - Int(SyncSession.batchLimit) * 2
        #expect(rest > 0 && theirs.count { $0.kind == .checkpoint } == total / Int(CheckpointPayload.interval))
        let f = theirs[0].feed
        var local = MemoryReplica()
        var session = SyncSession(firstRequestID: UInt32.max - 1)
        _ = try session.start(local)
        let first = try session.onReply(requestID: UInt32.max - 1, message: .heads(heads(of: theirs)), replica: local)
        let limit = SyncSession.batchLimit
        #expect(sent(first).map(\.1) == [.want([WantRange(feed: f, fromSeq: 1, limit: limit)])])
        let batch1 = Array(theirs[0..<Int(limit)])
        let afterFirst = try session.onReply(requestID: sent(first)[0].0, message: .entries(batch1), replica: local)
        // Ask for the next batch, then store this one.
        #expect(afterFirst.count == 2)
        guard case .send(.want(let w2), let id2) = afterFirst[0], case .store(let s1) = afterFirst[1] else { Issue.record("\(afterFirst.count)"); return }
        #expect(w2 == [WantRange(feed: f, fromSeq: UInt64(limit) + 1, limit: limit)] && s1 == batch1)
        #expect(id2 == 1)  // wrapped past UInt32.max, skipping 0
        // The second batch lands while the first is still being stored: it waits, and the
        // third is asked for.
        let batch2 = Array(theirs[Int(limit)..<Int(2 * limit)])
        let afterBatch2 = try session.onReply(requestID: id2, message: .entries(batch2), replica: local)
        guard afterBatch2.count == 1, case .send(.want(let w3), let id3) = afterBatch2[0] else { Issue.record("\(afterBatch2)"); return }
        #expect(w3 == [WantRange(feed: f, fromSeq: UInt64(2 * limit) + 1, limit: UInt32(rest))])
        // The third lands too while the first is stored: two wait, nothing more is asked.
        let batch3 = Array(theirs[Int(2 * limit)...])
        #expect(try session.onReply(requestID: id3, message: .entries(batch3), replica: local).isEmpty)
        let added1 = local.apply(afterFirst)!
        let afterStore1 = try session.onStored(added: added1, replica: local)
        #expect(afterStore1 == [.progress(moved: Int(limit), of: total), .store(batch2)])
        let afterStore2 = try session.onStored(added: local.apply(afterStore1)!, replica: local)
        #expect(afterStore2 == [.progress(moved: Int(2 * limit), of: total), .store(batch3)])
        let end = try session.onStored(added: local.apply(afterStore2)!, replica: local)
        guard case .finished(let report)? = end.last else { Issue.record("not finished"); return }
        #expect(report.pulled == total && report.roundTrips == 4)
        #expect(end.contains(.markHeard([f])))
    }

    @Test("a batch that adds nothing stops the pull; the WANT in flight is awaited and its entries ignored")
    func stalledPull() throws {
        let theirs = try feed(Int(SyncSession.batchLimit) + 3)
        let local = MemoryReplica()
        var session = SyncSession(firstRequestID: 1)
        _ = try session.start(local)
        let want = try session.onReply(requestID: 1, message: .heads(heads(of: theirs)), replica: local)
        let out = try session.onReply(requestID: sent(want)[0].0, message: .entries(Array(theirs.prefix(Int(SyncSession.batchLimit)))), replica: local)
        let id = sent(out)[0].0
        #expect(try session.onStored(added: 0, replica: local) == [.progress(moved: 0, of: theirs.count)])
        let end = try session.onReply(requestID: id, message: .entries(Array(theirs.suffix(3))), replica: local)
        #expect(!end.contains { if case .store = $0 { true } else { false } })
        guard case .finished? = end.last else { Issue.record("\(end)"); return }
        // The peer's heads are ahead of ours: nothing is marked heard.
        #expect(!end.contains { if case .markHeard = $0 { true } else { false } })
    }

    @Test("offer what the peer lacks, push what it wants of it; feeds are caught up from the peer's own HEADS")
    func push() throws {
        let ours = try feed(4)
        let local = MemoryReplica(ours)
        var session = SyncSession(firstRequestID: 9)
        _ = try session.start(local)
        let offer = try session.onReply(requestID: 9, message: .heads([]), replica: local)
        let range = WantRange(feed: ours[0].feed, fromSeq: 1, limit: 4)
        #expect(sent(offer).map(\.1) == [.offer([range])])
        let push = try session.onReply(requestID: sent(offer)[0].0, message: .want([range]), replica: local)
        #expect(sent(push).map(\.1) == [.entries(ours)])
        let end = try session.onReply(requestID: sent(push)[0].0, message: .heads(heads(of: ours)), replica: local)
        #expect(end.first == .progress(moved: 4, of: 4))
        #expect(end.contains(.markHeard([ours[0].feed])))
        guard case .finished(let report)? = end.last else { Issue.record("\(end)"); return }
        #expect(report.pushed == 4 && report.roundTrips == 3)
    }

    @Test("an offer's answer: only the part wanted is pushed; a feed declined is not offered again this round; nothing wanted ends the round")
    func offerDeclined() throws {
        let (a, b) = (try feed(5, tag: "a"), try feed(3, tag: "b"))
        let local = MemoryReplica(a + b)
        var session = SyncSession(firstRequestID: 20)
        _ = try session.start(local)
        let offer = sent(try session.onReply(requestID: 20, message: .heads([]), replica: local))
        guard case .offer(let offered)? = offer.first?.1 else { Issue.record("no OFFER: \(offer)"); return }
        #expect(Set(offered) == [WantRange(feed: a[0].feed, fromSeq: 1, limit: 5), WantRange(feed: b[0].feed, fromSeq: 1, limit: 3)])
        // The peer holds a's first three already (from someone else) and is fetching b.
        let push = sent(try session.onReply(requestID: offer[0].0, message: .want([WantRange(feed: a[0].feed, fromSeq: 4, limit: 2)]), replica: local))
        #expect(push.map(\.1) == [.entries(Array(a[3...]))])
        // Its heads after the push: a whole, b still missing; b was declined, so the round ends.
        let end = try session.onReply(requestID: push[0].0, message: .heads(heads(of: a)), replica: local)
        guard case .finished(let report)? = end.last else { Issue.record("\(end)"); return }
        #expect(report.pushed == 2 && !end.contains { if case .send = $0 { true } else { false } })
        // Wanting nothing of an offer ends the round without a push.
        var other = SyncSession(firstRequestID: 30)
        _ = try other.start(local)
        let second = sent(try other.onReply(requestID: 30, message: .heads([]), replica: local))
        let none = try other.onReply(requestID: second[0].0, message: .want([]), replica: local)
        guard case .finished(let nothing)? = none.last else { Issue.record("\(none)"); return }
        #expect(nothing.pushed == 0 && !none.contains { if case .send = $0 { true } else { false } })
    }

    @Test("a peer that wants none of the first offer's feeds (it holds or is fetching them) is offered the feeds past that offer's cap, not left without them")
    func offerPastTheCap() throws {
        let feeds = try (0...SyncMessage.maxEntriesPerMessage).map { _ in try feed(1) }
        let local = MemoryReplica(feeds.flatMap { $0 })
        var session = SyncSession(firstRequestID: 70)
        _ = try session.start(local)
        guard case (let id, .offer(let first))? = sent(try session.onReply(requestID: 70, message: .heads([]), replica: local)).first else {
            Issue.record("no offer")
            return
        }
        #expect(first.count == SyncMessage.maxEntriesPerMessage)
        guard case (let next, .offer(let rest))? = sent(try session.onReply(requestID: id, message: .want([]), replica: local)).first else {
            Issue.record("the feeds past the cap were never offered")
            return
        }
        let left = Set(feeds.map { $0[0].feed }).subtracting(first.map(\.feed))
        #expect(rest.map(\.feed) == Array(left) && left.count == 1)
        #expect(sent(try session.onReply(requestID: next, message: .want(rest), replica: local)).map(\.1) == [.entries(feeds.first { left.contains($0[0].feed) }!)])
    }

    @Test("an offer answered with ranges not offered (another feed, before or past the offer) is a wrong reply; one refused as malformed (a node before OFFER) is pushed unannounced, and offers end; any other refusal fails the round",
          arguments: ["other feed", "before", "past", "malformed", "busy"])
    func offerAnsweredWrongly(answer: String) throws {
        let ours = try feed(4)
        let local = MemoryReplica(ours)
        var session = SyncSession(firstRequestID: 50)
        _ = try session.start(local)
        let offer = sent(try session.onReply(requestID: 50, message: .heads([]), replica: local))
        let feedKey = ours[0].feed
        let reply: SyncMessage = switch answer {
        case "other feed": .want([WantRange(feed: try feed(1)[0].feed, fromSeq: 1, limit: 1)])
        case "before": .want([WantRange(feed: feedKey, fromSeq: 0, limit: 2)])
        case "past": .want([WantRange(feed: feedKey, fromSeq: 2, limit: 4)])
        case "malformed": .error(code: 400, message: "unknown message type 8")
        default: .error(code: 503, message: "try again later")
        }
        let out = try session.onReply(requestID: offer[0].0, message: reply, replica: local)
        if answer == "malformed" {
            #expect(sent(out).map(\.1) == [.entries(ours)])
            #expect(!session.offers)
            // The next round with that peer (the shell remembers) pushes without offering.
            var next = SyncSession(firstRequestID: 60, offers: false)
            _ = try next.start(local)
            #expect(sent(try next.onReply(requestID: 60, message: .heads([]), replica: local)).map(\.1) == [.entries(ours)])
        } else if answer == "busy" {
            #expect(session.isFinished && sent(out).isEmpty && session.offers)
        } else {
            #expect(out.contains { if case .drop(reason: "wrong-reply", _) = $0 { true } else { false } })
            #expect(session.isFinished && sent(out).isEmpty)
        }
    }

    @Test("a divergent head is fetched, proven, recorded, sent on as FORK, and its feed is neither pulled nor pushed")
    func fork() throws {
        let key = Curve25519.Signing.PrivateKey()
        let mine = try feed(2, key: key, tag: "one")
        let theirs = try feed(3, key: key, tag: "two")
        let f = mine[0].feed
        var local = MemoryReplica(mine)
        var session = SyncSession(firstRequestID: 100)
        _ = try session.start(local)
        let suspect = try session.onReply(requestID: 100, message: .heads(heads(of: theirs)), replica: local)
        // Their head is at seq 3, which we do not hold: no suspect there, but the pull starts at
        // our head's seq, where the overlap proves the fork (`divergedBelowHead`). Heads at seq 2
        // are a suspect.
        #expect(sent(suspect).map(\.1) == [.want([WantRange(feed: f, fromSeq: 2, limit: 2)])])
        // With their head at seq 2 (a different entry from ours), the round proves the fork.
        var round = SyncSession(firstRequestID: 200)
        _ = try round.start(local)
        let fetch = try round.onReply(requestID: 200, message: .heads([FeedHead(feed: f, seq: 2, id: theirs[1].id)]), replica: local)
        #expect(sent(fetch).map(\.1) == [.want([WantRange(feed: f, fromSeq: 2, limit: 1)])])
        let proven = try round.onReply(requestID: sent(fetch)[0].0, message: .entries([theirs[1]]), replica: local)
        #expect(proven.first == .recordFork(mine[1], theirs[1]))
        #expect(sent(proven).map(\.1) == [.fork(mine[1], theirs[1])])
        _ = local.apply(proven)
        let end = try round.onReply(requestID: sent(proven)[0].0, message: .heads([FeedHead(feed: f, seq: 2, id: theirs[1].id)]), replica: local)
        guard case .finished(let report)? = end.last else { Issue.record("\(end)"); return }
        #expect(report.forks == 1 && sent(end).isEmpty)
    }

    @Test("screening received entries: a different entry at a held position is fork evidence, its feed left out")
    func screen() throws {
        let key = Curve25519.Signing.PrivateKey()
        let mine = try feed(1, key: key, tag: "one")
        let theirs = try feed(2, key: key, tag: "two")
        let other = try feed(1, tag: "other")
        let (clean, forks) = try Reconciliation.screen(theirs + other, against: MemoryReplica(mine))
        #expect(clean == other)
        #expect(forks.count == 1 && forks[0].0 == mine[0] && forks[0].1 == theirs[0])
    }

    @Test("held entries are looked up only at or below the feed's head, and a fork at the head is still caught")
    func lookupsStopAtTheHead() throws {
        /// A replica that counts which seqs it was asked for.
        final class Counting: SyncReplica {
            let inner: MemoryReplica
            var asked: [UInt64] = []
            init(_ inner: MemoryReplica) { self.inner = inner }
            func heads() -> [FeedKey: FeedHead] { inner.heads() }
            func head(of feed: FeedKey) -> FeedHead? { inner.head(of: feed) }
            func entry(feed: FeedKey, seq: UInt64) -> Entry? {
                asked.append(seq)
                return inner.entry(feed: feed, seq: seq)
            }
            func quarantinedFeeds() -> Set<FeedKey> { inner.quarantinedFeeds() }
            func forks() -> [(Entry, Entry)] { inner.forks() }
            func entries(for ranges: [WantRange]) -> [Entry] { inner.entries(for: ranges) }
        }
        let key = Curve25519.Signing.PrivateKey()
        let entries = try feed(6, key: key, tag: "held")
        // Holding 1...3, a pull overlapping the head by one: only seq 3 is looked up.
        let replica = Counting(MemoryReplica(Array(entries.prefix(3))))
        let (clean, forks) = try Reconciliation.screen(Array(entries[2...]), against: replica)
        #expect(clean == Array(entries[3...]) && forks.isEmpty)
        #expect(replica.asked == [3])
        // A fresh replica is asked nothing.
        let fresh = Counting(MemoryReplica())
        #expect(try Reconciliation.screen(entries, against: fresh).clean == entries)
        #expect(fresh.asked.isEmpty)
        // Another history of the same key, overlapping the held head: the fork is proven.
        let other = try feed(4, key: key, tag: "other")
        let forked = Counting(MemoryReplica(Array(entries.prefix(3))))
        let (kept, proven) = try Reconciliation.screen(Array(other[2...]), against: forked)
        #expect(kept.isEmpty && proven.count == 1 && proven[0].0 == entries[2] && proven[0].1 == other[2])
        #expect(forked.asked == [3])
    }

    @Test("link asks for held entries only at or below the head")
    func linkLookupsStopAtTheHead() async throws {
        let entries = try feed(5, tag: "link")
        let verified = try await EntryVerifier.verifyContents(entries)
        var asked: [UInt64] = []
        let head = FeedHead(feed: entries[0].feed, seq: 2, id: entries[1].id)
        let linking = try EntryVerifier.link(verified, heads: [head.feed: head]) { _, seq in
            asked.append(seq)
            return entries[Int(seq) - 1].id
        }
        #expect(linking.linked.map(\.id) == entries[2...].map(\.id) && linking.forks.isEmpty)
        #expect(asked == [1, 2])
    }

    @Test("screening received entries: entries already held are not verified or stored again")
    func screenHeld() throws {
        let entries = try feed(3, tag: "held")
        let (clean, forks) = try Reconciliation.screen(entries, against: MemoryReplica(Array(entries.prefix(2))))
        #expect(clean == [entries[2]] && forks.isEmpty)
    }
}
