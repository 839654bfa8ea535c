@preconcurrency import Crypto
import Testing
import VellumCore
@testable import VellumNode
@testable import VellumWire

/// A reply starts verifying before the replicator's actor takes it in (`Replicator.Reply`), so
/// the dispatcher must refuse that head start to whatever the actor would not have checked: an
/// answer nobody asked for, a second answer to one request, the entry a WANT overlaps to detect
/// forks, and what is held or being stored already. A peer answering out of turn must not make
/// this node verify anything ahead.
@Suite("What a reply may start verifying on arrival")
struct ReplyCheckTests {
    static func feed(_ count: Int) -> [Entry] {
        let key = Curve25519.Signing.PrivateKey()
        var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
        return writer.append((0..<count).map { (.revoke, .status(StatusPayload(credentialID: "urn:uuid:r-\($0)"))) }, now: Timestamp(millisecondsSinceEpoch: 1_800_000_000_000))
            .map(\.entry)
    }

    @Test("only the first answer to a WANT in flight, holding entries of its ranges, and only its entries past what is held or being stored")
    func gate() {
        let entries = Self.feed(14)
        let stranger = Self.feed(3)
        let feed = entries[0].feed
        let (socket, other) = (SocketID(raw: 1), SocketID(raw: 2))
        let ahead = Replicator.Ahead()
        func seqs(_ id: UInt32, _ reply: [Entry], on s: SocketID = socket) -> [UInt64]? {
            ahead.settle(id, with: .entries(reply), on: s)?.map(\.seq)
        }
        ahead.hold([FeedHead(feed: feed, seq: 5, id: entries[4].id)])
        ahead.start(socket)
        let want = [WantRange(feed: feed, fromSeq: 5, limit: 6)]  // seq 5 (the overlap, held) to 10
        ahead.expect(7, ranges: want, on: socket)
        let answer = Array(entries[4..<10])
        #expect(seqs(8, answer) == nil, "an id no WANT carries")
        #expect(seqs(7, answer, on: other) == nil, "the right id on another connection")
        #expect(seqs(7, answer) == Array(6...10), "the overlap entry is held")
        #expect(seqs(7, answer) == nil, "a second answer to one WANT")
        // Answers in turn with other content: entries past the ranges, another feed's, a WANT
        // of one entry answered with many. None starts a check, and each settles its WANT.
        ahead.expect(20, ranges: want, on: socket)
        #expect(seqs(20, Array(entries[4..<12])) == nil, "entries past the range")
        ahead.expect(21, ranges: want, on: socket)
        #expect(seqs(21, stranger) == nil, "another feed's entries")
        ahead.expect(22, ranges: [WantRange(feed: feed, fromSeq: 3, limit: 1)], on: socket)
        #expect(seqs(22, [entries[2]]) == [], "a suspect's answer is held")
        #expect(seqs(22, Array(entries[2..<12])) == nil, "settled already")
        ahead.expect(23, ranges: want, on: socket)
        #expect(ahead.settle(23, with: .error(code: 500, message: "no"), on: socket) == nil)
        #expect(seqs(23, answer) == nil, "an ERROR settled it")
        // A store takes seq 6...10 (another round's copy): a copy of them starts no check ahead.
        let token = ahead.storing(Array(entries[5..<10]))
        let more = [WantRange(feed: feed, fromSeq: 6, limit: 8)]
        ahead.expect(9, ranges: more, on: socket)
        #expect(seqs(9, Array(entries[5..<13])) == [11, 12, 13])
        // That store failed: seq 6 and on are fresh again. Had it stored them, they would be held.
        ahead.stored(token, succeeded: false)
        ahead.expect(10, ranges: more, on: socket)
        #expect(seqs(10, Array(entries[5..<13])) == Array(6...13))
        ahead.stored(ahead.storing(Array(entries[5..<10])), succeeded: true)
        ahead.expect(11, ranges: more, on: socket)
        #expect(seqs(11, Array(entries[5..<13])) == [11, 12, 13])
        // A round that ended takes no answers, even to the WANTs it had in flight.
        ahead.expect(12, ranges: more, on: socket)
        ahead.end(socket)
        ahead.expect(13, ranges: more, on: socket)
        #expect(seqs(12, Array(entries[5..<13])) == nil)
        #expect(seqs(13, Array(entries[5..<13])) == nil)
    }

    @Test("an OFFER is answered with what is neither held, stored nor just asked for: a feed in a batch being stored, or in a WANT in flight within a second of its connection's first WANT of it (across rounds, anew after 30 s), is declined whole")
    func offerAnswer() throws {
        let (a, b, c) = (Self.feed(10), Self.feed(10), Self.feed(10))
        let (socket, other) = (SocketID(raw: 1), SocketID(raw: 2))
        let ahead = Replicator.Ahead()
        let offered = [a, b, c].map { WantRange(feed: $0[0].feed, fromSeq: 1, limit: 10) }
        let held = [a[0].feed: UInt64(4)]  // a: held to seq 4
        func wanted(at now: ContinuousClock.Instant = .now) -> [WantRange] { Reconciliation.wanted(offered, held: held, skipping: ahead.busy(beyond: held, at: now)) }
        #expect(wanted() == [WantRange(feed: a[0].feed, fromSeq: 5, limit: 6), offered[1], offered[2]])
        // b being fetched from another peer, c being stored from a third.
        ahead.start(socket)
        ahead.expect(3, ranges: [WantRange(feed: b[0].feed, fromSeq: 1, limit: 4)], on: socket)
        // The checks below look at the time just after that WANT, however slow this machine is.
        let asked = ContinuousClock.now
        let token = ahead.storing(Array(c[..<6]))
        #expect(wanted(at: asked) == [WantRange(feed: a[0].feed, fromSeq: 5, limit: 6)])
        // A WANT left unanswered declines its feeds for `declining` only; a store, while it lasts.
        #expect(wanted(at: asked + Replicator.Ahead.declining + .milliseconds(100)) == [WantRange(feed: a[0].feed, fromSeq: 5, limit: 6), offered[1]])
        // Nor does a round asking again and again (a peer answering a little at a time): the
        // second counts from the connection's first WANT of the feed. (Instants given, not
        // slept: a loaded machine once slept past `renewing`.)
        let first = ContinuousClock.now
        ahead.start(other, at: first)
        ahead.expect(5, ranges: [WantRange(feed: b[0].feed, fromSeq: 1, limit: 2)], on: other, at: first)
        _ = ahead.settle(5, with: .entries(Array(b[..<1])), on: other)
        ahead.expect(6, ranges: [WantRange(feed: b[0].feed, fromSeq: 2, limit: 2)], on: other, at: first + .milliseconds(300))
        #expect(wanted(at: first + Replicator.Ahead.declining + .milliseconds(100)) == [WantRange(feed: a[0].feed, fromSeq: 5, limit: 6), offered[1]])
        ahead.end(other)
        // A store of what is held already does not count as pending.
        let old = ahead.storing(Array(a[..<4]))
        #expect(wanted(at: asked) == [WantRange(feed: a[0].feed, fromSeq: 5, limit: 6)])
        ahead.stored(old, succeeded: true)
        // The WANT answered, the store failed: both are wanted again.
        _ = ahead.settle(3, with: .entries(Array(b[..<4])), on: socket)
        ahead.stored(token, succeeded: false)
        #expect(wanted(at: asked) == [WantRange(feed: a[0].feed, fromSeq: 5, limit: 6), offered[1], offered[2]])
        // A hostile peer starting round after round, each stalling a WANT of b, declines it
        // for others no longer than once: the second counts from the connection's first WANT
        // of b, across rounds, and starts anew only `renewing` later.
        let hostile = SocketID(raw: 3)
        let t0 = ContinuousClock.now
        for round in 0..<5 {
            let at = t0 + .milliseconds(400 * round)
            ahead.start(hostile, at: at)
            ahead.expect(UInt32(10 + round), ranges: [WantRange(feed: b[0].feed, fromSeq: 1, limit: 4)], on: hostile, at: at)
            let declined = !wanted(at: at + .milliseconds(100)).contains(offered[1])
            #expect(declined == (at + .milliseconds(100) - t0 < Replicator.Ahead.declining), "round \(round) of a stalling peer declined b: \(declined)")
            ahead.end(hostile)
        }
        let later = t0 + Replicator.Ahead.renewing + .seconds(1)
        ahead.start(hostile, at: later)
        ahead.expect(20, ranges: [WantRange(feed: b[0].feed, fromSeq: 1, limit: 4)], on: hostile, at: later)
        #expect(!wanted(at: later + .milliseconds(100)).contains(offered[1]))
        ahead.end(hostile)
        // Quarantined feeds and empty or passed ranges are never wanted.
        #expect(Reconciliation.wanted(offered + [WantRange(feed: a[0].feed, fromSeq: 2, limit: 0)], held: [a[0].feed: 10], skipping: [b[0].feed]) == [offered[2]])
    }
}
