import Foundation
import Testing
import VellumCore
@testable import VellumHTTP
import VellumNode

/// The status cache's answers given without a read of the ledger (`StatusCache.keptAnswer`):
/// only while nothing at all was committed since they were last confirmed, by any connection.
@Suite("HTTP: status answers given again without a read of the ledger")
struct StatusCacheTests {
    /// An answer's fields but its time.
    static func fields(_ bytes: [UInt8]?) -> [String: JSON]? {
        guard let bytes, case .object(var fields) = try? JSON(parsing: bytes) else { return nil }
        fields["at"] = nil
        return fields
    }

    @Test("an answer is given again only once confirmed, and only until the next commit of another connection, whatever it changed")
    func onlyWhileNothingWasCommitted() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let cache = try StatusCache(path: campus.dir)
        let reader = try LedgerReader(path: campus.dir)
        let id = campus.active.id
        let issuers = [nil, campus.node.did.did]
        for issuer in issuers {
            #expect(cache.keptAnswer(id, issuer: issuer) == nil)  // never read
            let read = Self.fields(try cache.answer(id, issuer: issuer, node: reader))
            #expect(read?["status"] == "active")
            #expect(cache.keptAnswer(id, issuer: issuer) == nil)
            #expect(Self.fields(try cache.answer(id, issuer: issuer, node: reader)) == read)
            #expect(cache.keptAnswer(id, issuer: issuer) == nil)  // read again: kept, not yet confirmed by a query
            #expect(Self.fields(try cache.answer(id, issuer: issuer, node: reader)) == read)
            #expect(Self.fields(cache.keptAnswer(id, issuer: issuer)) == read)  // the same answer, no query
        }

        // The node's own connection commits a status change: the next answer is read again.
        try campus.node.changeStatus(.suspend, of: id, reason: "under review")
        for issuer in issuers {
            #expect(cache.keptAnswer(id, issuer: issuer) == nil)
            for _ in 0..<2 {  // read again (the issuer's head moved), then confirmed
                #expect(Self.fields(try cache.answer(id, issuer: issuer, node: reader))?["status"] == "suspended")
            }
            #expect(Self.fields(cache.keptAnswer(id, issuer: issuer))?["status"] == "suspended")
        }

        // A commit about another credential ends it too: the check does not know what changed.
        _ = try await campus.node.issue(CredentialRequest(subject: "did:example:dee", achievementName: "Algebra"))
        for issuer in issuers {
            #expect(cache.keptAnswer(id, issuer: issuer) == nil)
            for _ in 0..<2 {  // the issuer's head moved again
                #expect(Self.fields(try cache.answer(id, issuer: issuer, node: reader))?["status"] == "suspended")
            }
            #expect(Self.fields(cache.keptAnswer(id, issuer: issuer))?["status"] == "suspended")
        }

        // An unknown id, or an issuer that is not a did:key, is never answered this way.
        #expect(cache.keptAnswer("urn:uuid:00000000-0000-7000-8000-000000000000", issuer: nil) == nil)
        #expect(cache.keptAnswer(id, issuer: "did:key:nonsense") == nil)
    }

    @Test("an answer is kept from its second reading on; one already kept is kept again when a commit makes it read again, whatever was asked between")
    func keptFromTheSecondReading() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let cache = try StatusCache(path: campus.dir, readLatelySlots: 1)  // every read notes its id in the one slot
        let reader = try LedgerReader(path: campus.dir)
        let (id, other) = (campus.active.id, campus.revoked.id)
        for _ in 0..<2 { _ = try cache.answer(id, issuer: nil, node: reader) }  // read twice: kept
        for _ in 0..<2 { _ = try cache.answer(other, issuer: nil, node: reader) }  // the slot now holds `other`
        try campus.node.changeStatus(.suspend, of: id, reason: "under review")
        for _ in 0..<2 { #expect(Self.fields(try cache.answer(id, issuer: nil, node: reader))?["status"] == "suspended") }  // read again, confirmed
        #expect(Self.fields(cache.keptAnswer(id, issuer: nil))?["status"] == "suspended")
    }

    @Test("a kept answer for a bare id is not given once another feed writes that id: the id is then ambiguous (409)")
    func keptAnswerAndAStranger() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let replica = try await TakeoverRoutesTests.replica(of: campus)
        let cache = try StatusCache(path: replica.directory.path)
        let reader = try LedgerReader(path: replica.directory.path)
        let id = campus.revoked.id
        for _ in 0..<3 { #expect(Self.fields(try cache.answer(id, issuer: nil, node: reader))?["status"] == "revoked") }
        #expect(Self.fields(cache.keptAnswer(id, issuer: nil))?["status"] == "revoked")
        _ = try await replica.importEntries(TakeoverRoutesTests.strangerEntries(about: id).entries)
        #expect(cache.keptAnswer(id, issuer: nil) == nil)
        let refusal = #expect(throws: VellumError.self) { try cache.answer(id, issuer: nil, node: reader) }
        #expect(refusal?.code == .conflict)
        #expect(Self.fields(try cache.answer(id, issuer: campus.node.did.did, node: reader))?["status"] == "revoked")
    }

    @Test("a stranger's copy of the id stored first: the bare id is never kept (a 409 each time); the campus named is kept as the campus's, the stranger named as the stranger's")
    func strangerFirst() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let (strangerDID, forged) = TakeoverRoutesTests.strangerEntries(about: campus.revoked.id)
        let replica = try Node.create(at: campus.dir + "-replica", name: "Replica", baseURL: "https://replica.example.edu")
        _ = try await replica.importEntries(forged)  // the stranger's entries arrive before the campus's
        try await TakeoverRoutesTests.importLog(of: campus, into: replica)
        let cache = try StatusCache(path: replica.directory.path)
        let reader = try LedgerReader(path: replica.directory.path)
        let id = campus.revoked.id
        for _ in 0..<3 {
            let refusal = #expect(throws: VellumError.self) { try cache.answer(id, issuer: nil, node: reader) }
            #expect(refusal?.code == .conflict)
            #expect(cache.keptAnswer(id, issuer: nil) == nil)
        }
        for (did, status) in [(campus.node.did.did, "revoked"), (strangerDID, "active")] {
            for _ in 0..<3 { #expect(Self.fields(try cache.answer(id, issuer: did, node: reader))?["status"] == .string(status)) }
            let kept = Self.fields(cache.keptAnswer(id, issuer: did))
            #expect(kept?["status"] == .string(status) && kept?["issuer"] == .string(did))
        }
    }

    @Test("on a replica: the stranger's answer kept while it was the only issuer becomes a 409 once the campus's entries arrive; the campus's answer kept, named, shows its revocation once that arrives")
    func replicaArrivals() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let id = campus.active.id
        let (strangerDID, forged) = TakeoverRoutesTests.strangerEntries(about: id)
        let replica = try Node.create(at: campus.dir + "-replica", name: "Replica", baseURL: "https://replica.example.edu")
        _ = try await replica.importEntries(forged)
        let cache = try StatusCache(path: replica.directory.path)
        let reader = try LedgerReader(path: replica.directory.path)
        for _ in 0..<3 { #expect(Self.fields(try cache.answer(id, issuer: nil, node: reader))?["issuer"] == .string(strangerDID)) }
        #expect(Self.fields(cache.keptAnswer(id, issuer: nil))?["issuer"] == .string(strangerDID))

        try await TakeoverRoutesTests.importLog(of: campus, into: replica)
        #expect(cache.keptAnswer(id, issuer: nil) == nil)
        #expect(#expect(throws: VellumError.self) { try cache.answer(id, issuer: nil, node: reader) }?.code == .conflict)

        let named = campus.node.did.did
        for _ in 0..<3 { #expect(Self.fields(try cache.answer(id, issuer: named, node: reader))?["status"] == "active") }
        #expect(Self.fields(cache.keptAnswer(id, issuer: named))?["status"] == "active")
        try campus.node.changeStatus(.revoke, of: id, reason: "issued in error")
        try await TakeoverRoutesTests.importLog(of: campus, into: replica)  // the revocation arrives
        #expect(cache.keptAnswer(id, issuer: named) == nil)
        #expect(Self.fields(try cache.answer(id, issuer: named, node: reader))?["status"] == "revoked")
    }

    @Test("on a replica, the stranger's entries arriving between the campus's issue and its revocation: the bare id turns 409, the campus named shows its revocation, the stranger named stays the stranger's")
    func strangerBetweenIssueAndRevocation() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let id = campus.active.id
        let replica = try await TakeoverRoutesTests.replica(of: campus)  // the campus's issue first
        let cache = try StatusCache(path: replica.directory.path, readLatelySlots: 1)
        let reader = try LedgerReader(path: replica.directory.path)
        let named = campus.node.did.did
        for issuer in [nil, named] {
            for _ in 0..<3 { #expect(Self.fields(try cache.answer(id, issuer: issuer, node: reader))?["status"] == "active") }
        }
        #expect(Self.fields(cache.keptAnswer(id, issuer: named))?["issuer"] == .string(named))

        let (strangerDID, forged) = TakeoverRoutesTests.strangerEntries(about: id)
        _ = try await replica.importEntries(forged)  // then the stranger's
        #expect(cache.keptAnswer(id, issuer: nil) == nil && cache.keptAnswer(id, issuer: named) == nil)
        #expect(#expect(throws: VellumError.self) { try cache.answer(id, issuer: nil, node: reader) }?.code == .conflict)
        for _ in 0..<3 { #expect(Self.fields(try cache.answer(id, issuer: strangerDID, node: reader))?["issuer"] == .string(strangerDID)) }
        for _ in 0..<2 { #expect(Self.fields(try cache.answer(id, issuer: named, node: reader))?["status"] == "active") }
        #expect(Self.fields(cache.keptAnswer(id, issuer: named))?["status"] == "active")

        try campus.node.changeStatus(.revoke, of: id, reason: "issued in error")
        try await TakeoverRoutesTests.importLog(of: campus, into: replica)  // then the campus's revocation
        #expect(cache.keptAnswer(id, issuer: named) == nil && cache.keptAnswer(id, issuer: strangerDID) == nil)
        for _ in 0..<2 { #expect(Self.fields(try cache.answer(id, issuer: named, node: reader))?["status"] == "revoked") }
        #expect(Self.fields(cache.keptAnswer(id, issuer: named))?["status"] == "revoked")
        let stranger = Self.fields(try cache.answer(id, issuer: strangerDID, node: reader))
        #expect(stranger?["issuer"] == .string(strangerDID) && stranger?["status"] == "active")
        #expect(#expect(throws: VellumError.self) { try cache.answer(id, issuer: nil, node: reader) }?.code == .conflict)
        #expect(cache.keptAnswer(id, issuer: nil) == nil)
    }

    @Test("the kept answers' evidence is bounded in bytes, not only in count: past the budget, the oldest generation ages out")
    func boundedInBytes() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let reader = try LedgerReader(path: campus.dir)
        let (first, others) = (campus.active.id, [campus.revoked.id, campus.suspended.id])
        for (budget, keptAfterOthers) in [(64 << 20, true), (1, false)] {
            let cache = try StatusCache(path: campus.dir, generationBytes: budget)
            for id in [first] + others { for _ in 0..<2 { _ = try cache.answer(id, issuer: nil, node: reader) } }  // each read twice: kept
            _ = try cache.answer(first, issuer: nil, node: reader)  // confirmed if still held, else read again
            #expect((cache.keptAnswer(first, issuer: nil) != nil) == keptAfterOthers, "budget \(budget)")
        }
    }

    @Test("a kept answer is given at the current time: a credential that expires with nothing committed is expired in it")
    func expiryWithoutACommit() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let start = Node.systemClock()
        let expiry = Timestamp(millisecondsSinceEpoch: start.millisecondsSinceEpoch + 3_600_000)
        let credential = try await campus.node.issue(CredentialRequest(subject: "did:example:eve", achievementName: "Logic", validUntil: expiry))
        nonisolated(unsafe) var now = start
        let cache = try StatusCache(path: campus.dir, clock: { now })
        let reader = try LedgerReader(path: campus.dir, clock: { now })
        for _ in 0..<3 { #expect(Self.fields(try cache.answer(credential.id, issuer: nil, node: reader))?["status"] == "active") }
        #expect(Self.fields(cache.keptAnswer(credential.id, issuer: nil))?["status"] == "active")
        now = Timestamp(millisecondsSinceEpoch: expiry.millisecondsSinceEpoch + 1)
        let late = try #require(cache.keptAnswer(credential.id, issuer: nil))
        #expect(Self.fields(late)?["status"] == "expired")
        #expect((try? JSON(parsing: late))?["at"]?.stringValue == now.rfc3339)
    }
}
