import Foundation
import Testing
import VellumCore
@testable import VellumHTTP
import VellumNode

/// The status cache's answers given without a read of the ledger (`StatusCache.unchanged`):
/// only while nothing at all was committed since they were last confirmed, by any connection.
@Suite("HTTP: status answers given again without a read of the ledger")
struct StatusCacheTests {
    static func fields(_ bytes: [UInt8]?) -> [String: JSON]? {
        guard let bytes, case .object(var fields) = try? JSON(parsing: bytes) else { return nil }
        fields["at"] = nil  // the time of the answer
        return fields
    }

    @Test("an answer is given again only once confirmed, and only until the next commit of another connection, whatever it changed")
    func onlyWhileNothingWasCommitted() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let cache = try StatusCache(path: campus.dir)
        let reader = try LedgerReader(path: campus.dir)
        let id = campus.active.id
        for issuer in [nil, campus.node.did.did] {
            #expect(Self.fields(cache.unchanged(id, issuer: issuer))?["status"] == nil)  // never read
            let read = Self.fields(try cache.answer(id, issuer: issuer, node: reader))
            #expect(read?["status"] == "active")
            #expect(Self.fields(cache.unchanged(id, issuer: issuer))?["status"] == nil)  // kept, not yet confirmed by a query
            #expect(Self.fields(try cache.answer(id, issuer: issuer, node: reader)) == read)
            #expect(Self.fields(cache.unchanged(id, issuer: issuer)) == read)  // the same answer, no query
        }

        // The node's own connection commits a status change: the next answer is read again.
        try campus.node.changeStatus(.suspend, of: id, reason: "under review")
        #expect(Self.fields(cache.unchanged(id, issuer: nil))?["status"] == nil)
        for _ in 0..<2 {  // read again (the issuer's head moved), then confirmed
            #expect(Self.fields(try cache.answer(id, issuer: nil, node: reader))?["status"] == "suspended")
        }
        #expect(Self.fields(cache.unchanged(id, issuer: nil))?["status"] == "suspended")

        // A commit about another credential ends it too: the check does not know what changed.
        _ = try await campus.node.issue(CredentialRequest(subject: "did:example:dee", achievementName: "Algebra"))
        #expect(Self.fields(cache.unchanged(id, issuer: nil))?["status"] == nil)
        for _ in 0..<2 {  // the issuer's head moved again
            #expect(Self.fields(try cache.answer(id, issuer: nil, node: reader))?["status"] == "suspended")
        }
        #expect(Self.fields(cache.unchanged(id, issuer: nil))?["status"] == "suspended")

        // An unknown id, or an issuer that is not a did:key, is never answered this way.
        #expect(Self.fields(cache.unchanged("urn:uuid:00000000-0000-7000-8000-000000000000", issuer: nil))?["status"] == nil)
        #expect(Self.fields(cache.unchanged(id, issuer: "did:key:nonsense"))?["status"] == nil)
    }
}
