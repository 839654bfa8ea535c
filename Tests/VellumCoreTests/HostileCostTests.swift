import Foundation
import Testing
import VellumCore

/// The cost of the most expensive message a hostile but allowed peer can send: an ENTRIES
/// message filled to the byte limit with validly signed status-list entries of the largest
/// payload (64 KiB), each a list credential whose proof must be checked. Verification is
/// linear in the bytes, and the message is capped at `SyncMessage.maxBytesPerMessage`, so the
/// work per message is bounded whatever the entries hold. (Its cost in time is a figure for
/// Scripts/bench, not a test bound.)
@Suite("Hostile cost: the largest message verifies in bounded time")
struct HostileCostTests {
    @Test("the costliest ENTRIES message, 4 MiB of maximal signed status lists, verifies; one byte more is refused unread")
    func maximalStatusLists() async throws {
        var writer = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        let did = writer.feed.didKey
        let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)
        // An encodedList as long as the payload limit allows.
        let encoded = "u" + String(repeating: "A", count: UnsignedEntry.maximumPayloadSize - 1_200)
        var entries: [Entry] = []
        var bytes = 0
        while true {
            let url = OpenBadges.statusListURL(base: "https://x.example", issuer: did, purpose: "revocation", index: entries.count * OpenBadges.statusListSize)
            let unsigned = BitstringStatusList.credential(url: url, purpose: "revocation", encodedList: encoded, issuer: did, validFrom: now)
            let signed = try DataIntegrity.sign(unsigned, options: .init(verificationMethod: did.verificationMethod, created: now.rfc3339), with: writer.key)
            let entry = writer.append([(.statusList, .statusList(try StatusListPayload(json: signed)))], now: now)[0].entry
            guard entry.payload.count <= UnsignedEntry.maximumPayloadSize else { Issue.record("payload \(entry.payload.count) too large"); return }
            guard bytes + entry.wireBytes.count + 4 <= SyncMessage.maxBytesPerMessage - 64 else { break }
            bytes += entry.wireBytes.count + 4
            entries.append(entry)
        }
        let frames = SyncMessage.entries(entries).frames(requestID: 1)
        #expect(frames[1].count > 3 << 20 && frames[1].count <= SyncMessage.maxBytesPerMessage)

        guard case .entries(let decoded) = try SyncMessage.decode(frames).message else { Issue.record("not ENTRIES"); return }
        let verified = try await EntryVerifier.verifyContents(decoded)
        #expect(verified.count == entries.count)

        // One byte beyond the limit, and the message is refused before any entry is looked at.
        var oversized = frames
        oversized[1] += [UInt8](repeating: 0, count: SyncMessage.maxBytesPerMessage - frames[1].count + 1)
        #expect(throws: VellumError.self) { try SyncMessage.decode(oversized) }
    }

    @Test("a JSON value budget refuses a text with more values, before building them")
    func valueBudget() throws {
        #expect(try JSON(parsing: Array("[1,[2],{\"a\":true}]".utf8), maximumValues: 6) == [1, [2], ["a": true]])
        #expect(throws: JSONError.self) { try JSON(parsing: Array("[1,[2],{\"a\":true}]".utf8), maximumValues: 5) }
        let huge = Array(("[" + String(repeating: "0,", count: 500_000) + "0]").utf8)
        let error = #expect(throws: JSONError.self) { try JSON(parsing: huge, maximumValues: 25_000) }
        #expect(error?.message.contains("more than 25000 values") == true && error!.offset < 60_000)
    }
}
