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

    @Test("only an answer to a WANT in flight, once, and only its entries past what is held or being stored")
    func gate() {
        let entries = Self.feed(12)
        let feed = entries[0].feed
        let (socket, other) = (SocketID(raw: 1), SocketID(raw: 2))
        let ahead = Replicator.Ahead()
        ahead.start(socket, held: [feed: FeedHead(feed: feed, seq: 5, id: entries[4].id)])
        ahead.expect(7, on: socket)
        let answer = Array(entries[4..<10])  // seq 5 (the overlap) to 10
        #expect(ahead.fresh(answer, answering: 8, on: socket)?.map(\.seq) == nil, "an id no WANT carries")
        #expect(ahead.fresh(answer, answering: 7, on: other)?.map(\.seq) == nil, "the right id on another connection")
        #expect(ahead.fresh(answer, answering: 7, on: socket)?.map(\.seq) == Array(6...10), "the overlap entry is held")
        #expect(ahead.fresh(answer, answering: 7, on: socket)?.map(\.seq) == nil, "a second answer to one WANT")
        // Another round hands seq 6...10 to the store: a copy of them starts no check ahead.
        ahead.cover(Array(entries[5..<10]))
        ahead.expect(9, on: socket)
        #expect(ahead.fresh(Array(entries[5..<12]), answering: 9, on: socket)?.map(\.seq) == [11, 12])
        // That store failed: the replica still holds seq 5, so seq 6 and on are fresh again.
        ahead.held([feed: FeedHead(feed: feed, seq: 5, id: entries[4].id)])
        ahead.expect(10, on: socket)
        #expect(ahead.fresh(answer, answering: 10, on: socket)?.map(\.seq) == Array(6...10))
        // A round that ended takes no answers, even to the WANTs it had in flight.
        ahead.expect(11, on: socket)
        ahead.end(socket)
        ahead.expect(12, on: socket)
        #expect(ahead.fresh(answer, answering: 11, on: socket)?.map(\.seq) == nil)
        #expect(ahead.fresh(answer, answering: 12, on: socket)?.map(\.seq) == nil)
    }
}
