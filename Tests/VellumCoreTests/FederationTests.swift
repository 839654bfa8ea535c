@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore
import VellumTestSupport

/// An organization's registrar, in memory: keys and log.
struct TestOrg {
    var key = Curve25519.Signing.PrivateKey()
    var next = Curve25519.Signing.PrivateKey()
    var events: [OrgEvent] = []

    init(_ name: String) {
        events = [try! OrgEvent.make(org: nil, seq: 0, prev: nil, body: .inception(name: name, key: did(key), next: commitment(next)), key: key)]
    }

    var id: String { events[0].org }
    var record: FederationDocument { .organization(events) }

    @discardableResult
    mutating func sign(_ body: OrgEvent.Body, with signer: Curve25519.Signing.PrivateKey? = nil) -> OrgEvent {
        let last = events[events.count - 1]
        let e = try! OrgEvent.make(org: id, seq: last.seq + 1, prev: last.digest, body: body, key: signer ?? key)
        events.append(e)
        return e
    }

    mutating func rotate() {
        let following = Curve25519.Signing.PrivateKey()
        sign(.rotation(key: did(next), next: commitment(following)), with: next)
        (key, next) = (next, following)
    }

    mutating func endorse(_ digest: Bytes32) { sign(.endorsement(digest: digest)) }
}

func did(_ key: Curve25519.Signing.PrivateKey) -> DIDKey { try! DIDKey(publicKey: Array(key.publicKey.rawRepresentation)) }
func commitment(_ key: Curve25519.Signing.PrivateKey) -> Bytes32 { Bytes32(Array(SHA256.hash(data: key.publicKey.rawRepresentation)))! }

/// A campus node's feed, in memory.
struct TestCampus {
    var writer = FeedWriter(key: Curve25519.Signing.PrivateKey(), head: nil, clock: HLC(rawValue: 0))
    var entries: [VerifiedEntry] = []
    var feed: FeedKey { writer.feed }
    let transport = String(repeating: "a", count: 40)

    var delegation: OrgEvent.Body { .delegation(Delegation(feed: feed, transport: transport, endpoint: nil, until: nil)) }

    @discardableResult
    mutating func write(_ kind: EntryKind, _ payload: EntryPayload, at ms: Int64 = 1_000) -> VerifiedEntry {
        let e = writer.append([(kind, payload)], now: Timestamp(millisecondsSinceEpoch: ms))[0].verified
        entries.append(e)
        return e
    }

    mutating func publish(_ document: FederationDocument) { write(.document, .document(document)) }

    mutating func issue(_ id: String, at ms: Int64 = 1_000) -> VerifiedEntry {
        write(.issue, .issue(samplePayload(id, issuer: feed.didKey.did)), at: ms)
    }
}

func published(_ entries: [VerifiedEntry]) -> [PublishedDocument] {
    entries.compactMap { e in
        guard case .document(let d) = e.payload else { return nil }
        return PublishedDocument(document: d, feed: e.feed, seq: e.seq, entry: e.id)
    }
}

/// Three founders (2-of-3) with a genesis, and a publisher feed.
struct TestFederation {
    var orgs: [TestOrg]
    var genesis: Genesis
    var publisher = TestCampus()

    init(threshold: Int = 2, names: [String] = ["Aalto", "Bologna", "Coimbra"]) {
        orgs = names.map(TestOrg.init)
        genesis = Genesis(name: "Test Federation", threshold: threshold, founders: orgs.map(\.id))
        for i in orgs.indices { orgs[i].endorse(genesis.digest) }
        publisher.publish(.genesis(genesis, events: orgs.flatMap(\.events)))
    }

    var id: String { genesis.federationID }
    func registry(_ extra: [VerifiedEntry] = []) -> FederationRegistry {
        FederationRegistry(federationID: id, documents: published(publisher.entries + extra))
    }

    mutating func propose(_ action: Proposal.Action, _ org: String, signers: [Int], events: [OrgEvent] = [], version: Bytes32? = nil) -> FederationDocument {
        let p = Proposal(federation: id, version: version ?? registry().version.id, action: action, org: org)
        for i in signers { orgs[i].endorse(p.digest) }
        return .proposal(p, events: events + Set(signers).flatMap { orgs[$0].events })
    }
}

@Suite("Federation: organizations, membership, authority, merge")
struct FederationTests {
    @Test("an organization event round-trips through JSON, and its id is its inception's digest")
    func eventJSON() throws {
        var org = TestOrg("Aalto")
        let e = org.sign(.delegation(Delegation(feed: TestCampus().feed, transport: String(repeating: "b", count: 40), endpoint: "tcp://127.0.0.1:1", until: nil)))
        #expect(try OrgEvent(json: try JSON(parsing: e.json.canonicalBytes)) == e)
        #expect(try OrgEvent(json: org.events[0].json).org == org.id)
        #expect(org.id.hasPrefix("did:vellum:z"))
        #expect(throws: VellumError.self) { try OrgEvent(json: e.json.setting("extra", to: 1)) }
    }

    @Test("rotation: the committed key is accepted; any other key is refused; the rotated-out key signs nothing after")
    func rotation() {
        var org = TestOrg("Aalto")
        let old = org.key
        org.rotate()
        let o = Organization.resolve(org.id, from: org.events)!
        #expect(o.key == did(org.key))
        #expect(o.events.count == 2)

        // A rotation to a key that was not committed to: refused.
        var forged = TestOrg("Bologna")
        let stranger = Curve25519.Signing.PrivateKey()
        forged.sign(.rotation(key: did(stranger), next: commitment(stranger)), with: stranger)
        #expect(Organization.resolve(forged.id, from: forged.events)!.events.count == 1)

        // The rotated-out key signs after the rotation: not in the log.
        var after = org
        let late = after.sign(.endorsement(digest: .zero), with: old)
        #expect(!Organization.resolve(org.id, from: after.events)!.holds(late.digest))
        // ...and a fork before the rotation with the old key loses to the branch that rotated.
        let fork = try! OrgEvent.make(org: org.id, seq: 1, prev: org.events[0].digest, body: .endorsement(digest: .zero), key: old)
        let resolved = Organization.resolve(org.id, from: org.events + [fork])!
        #expect(!resolved.holds(fork.digest))
        #expect(resolved.holds(org.events[1].digest))
        #expect(resolved.duplicity == nil)
    }

    @Test("a copy of a real event with a forged proof, seen first, does not hide the real one")
    func forgedCopy() throws {
        var org = TestOrg("Aalto")
        let real = org.sign(.endorsement(digest: .zero))
        var json = real.json
        json = json.setting("proof", to: .string("z" + Base58.encode([UInt8](repeating: 7, count: 64))))
        let forged = try OrgEvent(json: json)
        #expect(forged.digest == real.digest)
        let o = Organization.resolve(org.id, from: [forged] + org.events)!
        #expect(o.holds(real.digest))
        #expect(o.endorsement(of: .zero)?.proof == real.proof)
    }

    @Test("a genesis with an absurd threshold is refused, not a crash")
    func absurdThreshold() {
        let json: JSON = ["name": "F", "threshold": .number(1e300), "founders": ["did:vellum:zA"]]
        #expect(throws: VellumError.self) { try Genesis(json: json) }
        #expect(throws: VellumError.self) { try Genesis(json: json.setting("threshold", to: .number(.infinity))) }
    }

    @Test("duplicity without a rotation stops the log at the fork, in any order")
    func duplicity() {
        var org = TestOrg("Aalto")
        org.sign(.endorsement(digest: .zero))
        let other = try! OrgEvent.make(org: org.id, seq: 1, prev: org.events[0].digest, body: .endorsement(digest: Bytes32([UInt8](repeating: 1, count: 32))!), key: org.key)
        for pool in [org.events + [other], [other] + org.events.reversed()] {
            let o = Organization.resolve(org.id, from: pool)!
            #expect(o.events.count == 1)
            #expect(o.duplicity == 1)
        }
    }

    @Test("a genesis needs every founder's endorsement")
    func genesisNeedsAllFounders() {
        var f = TestFederation()
        #expect(f.registry().members.count == 3)
        let orgs = (0..<3).map { TestOrg("O\($0)") }
        let g = Genesis(name: "Half", threshold: 1, founders: orgs.map(\.id))
        var signer = orgs[0]
        signer.endorse(g.digest)
        f.publisher.publish(.genesis(g, events: signer.events + orgs[1].events + orgs[2].events))
        let r = FederationRegistry(federationID: g.federationID, documents: published(f.publisher.entries))
        #expect(r.genesis == nil)
        #expect(r.members.isEmpty)
        #expect(r.notes.first?.contains("not endorsed") == true)
    }

    @Test("2-of-3 admission: a duplicate signer counts once, a losing or stale version must be re-signed, a removed member's signature counts for nothing")
    func admission() {
        var f = TestFederation()
        let d = TestOrg("Delft")
        let v0 = f.registry().version.id
        // One member signing twice: still one signature.
        f.publisher.publish(f.propose(.admit, d.id, signers: [0, 0], events: d.events))
        #expect(f.registry().members[d.id] == nil)
        #expect(f.registry().version.number == 0)
        // Two proposals against version 0, each with two distinct signers: exactly one takes
        // version 0 (the smaller digest); the other names a version that is no longer current.
        let admit = f.propose(.admit, d.id, signers: [0, 1], events: d.events, version: v0)
        let remove = f.propose(.remove, f.orgs[2].id, signers: [0, 1], version: v0)
        f.publisher.publish(admit)
        f.publisher.publish(remove)
        var r = f.registry()
        #expect(r.version.number == 1)
        let admitted = r.members[d.id] != nil
        let removed = r.members[f.orgs[2].id] == nil
        #expect(admitted != removed, "one of two proposals against one version applies")
        // The loser, signed again against the current version, applies.
        if admitted {
            f.publisher.publish(f.propose(.remove, f.orgs[2].id, signers: [0, 1]))
        } else {
            f.publisher.publish(f.propose(.admit, d.id, signers: [0, 1], events: d.events))
        }
        r = f.registry()
        #expect(r.version.number == 2)
        #expect(r.members[d.id] != nil && r.members[f.orgs[2].id] == nil)
        // Coimbra, removed, signs with one member: its signature counts for nothing.
        let e = TestOrg("Edinburgh")
        f.publisher.publish(f.propose(.admit, e.id, signers: [2, 0], events: e.events))
        #expect(f.registry().members[e.id] == nil)
        // With a current member instead, it is admitted.
        f.publisher.publish(f.propose(.admit, e.id, signers: [1, 0], events: e.events))
        #expect(f.registry().members[e.id]?.since == 3)
    }

    @Test("concurrent proposals (admit and remove of one organization, two admissions) resolve the same in every arrival order", arguments: propertySeeds)
    func concurrentProposals(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var f = TestFederation()
        let d = TestOrg("Delft")
        let v0 = f.registry().version.id
        // At version 0: admit Delft (signed by 0, 1), remove Coimbra (1, 2); both valid, one wins.
        let admit = f.propose(.admit, d.id, signers: [0, 1], events: d.events, version: v0)
        let remove = f.propose(.remove, f.orgs[2].id, signers: [1, 2], version: v0)
        // And a second round against each possible version 1, so either order continues.
        var docs = [admit, remove]
        for first in [admit, remove] {
            guard case .proposal(let p, _) = first else { continue }
            var g = f
            g.publisher.publish(first)
            let v1 = g.registry().version.id
            #expect(v1 != v0, "\(p.action) applies at version 0")
            let e = TestOrg("Edinburgh-\(p.action)")
            docs.append(f.propose(.admit, e.id, signers: [0, 1], events: e.events, version: v1))
            docs.append(f.propose(.remove, d.id, signers: [0, 1], version: v1))
        }
        var reference: (Int, Set<String>)?
        for round in 0..<12 {
            var order = docs + docs.prefix(2)  // duplicates too
            order.shuffle(using: &rng)
            var g = f
            g.publisher = TestCampus()
            g.publisher.publish(.genesis(f.genesis, events: f.orgs.flatMap(\.events)))
            for doc in order { g.publisher.publish(doc) }
            let r = g.registry()
            let state = (r.version.number, Set(r.members.keys))
            if let reference {
                #expect(state.0 == reference.0 && state.1 == reference.1, "seed \(seed) round \(round): arrival order changed the membership")
            } else {
                reference = state
                #expect(r.version.number == 2, "seed \(seed): two proposals apply in sequence")
            }
        }
    }

    @Test("authority: a delegation counts from the entry after the campus publishes it, only for a member, and another member cannot claim the campus")
    func authority() {
        var f = TestFederation()
        var campus = TestCampus()
        let early = campus.issue("urn:uuid:early")
        f.orgs[0].sign(campus.delegation)
        campus.publish(f.orgs[0].record)
        let later = campus.issue("urn:uuid:later")
        // A hostile member delegates the same campus feed to itself and publishes it elsewhere.
        f.orgs[1].sign(campus.delegation)
        f.publisher.publish(f.orgs[1].record)
        let r = f.registry(campus.entries)
        #expect(r.authority(of: campus.feed, seq: early.seq).org == nil)
        #expect(r.authority(of: campus.feed, seq: later.seq).org == f.orgs[0].id)
        // A campus of a non-member counts for nothing.
        var outsider = TestOrg("Outsider")
        var theirs = TestCampus()
        outsider.sign(theirs.delegation)
        theirs.publish(outsider.record)
        let issued = theirs.issue("urn:uuid:x")
        let r2 = f.registry(campus.entries + theirs.entries)
        #expect(r2.authority(of: theirs.feed, seq: issued.seq).reason?.contains("not a member") == true)
    }

    @Test("a campus's entries that arrive before its university's admission are held back, and count once the admission arrives")
    func heldBackUntilAdmission() {
        var f = TestFederation()
        var delft = TestOrg("Delft")
        var campus = TestCampus()
        delft.sign(campus.delegation)
        campus.publish(delft.record)
        let issued = campus.issue("urn:uuid:early-bird")
        let revoked = campus.write(.revoke, .status(StatusPayload(credentialID: "urn:uuid:early-bird")))
        let key = CredentialKey(feed: campus.feed, id: "urn:uuid:early-bird")
        let before = FederatedMerge.resolve(key, issues: [IssueFact(issued)], changes: [StatusFact(revoked)], registry: f.registry(campus.entries))!
        #expect(before.authority.reason?.contains("not a member") == true)
        f.publisher.publish(f.propose(.admit, delft.id, signers: [0, 1], events: delft.events))
        let after = FederatedMerge.resolve(key, issues: [IssueFact(issued)], changes: [StatusFact(revoked)], registry: f.registry(campus.entries))!
        #expect(after.authority.org == delft.id)
        #expect(after.resolution.base == .revoked)
    }

    @Test("a compromise cut through seq S: later entries and forks of entry E count for nothing; an issue after S reads as revoked")
    func compromise() {
        var f = TestFederation()
        var a = TestCampus()
        var b = TestCampus()
        f.orgs[0].sign(a.delegation)
        f.orgs[0].sign(b.delegation)
        a.publish(f.orgs[0].record)
        b.publish(f.orgs[0].record)
        let before = a.issue("urn:uuid:before")
        let cutAt = before
        let after = a.issue("urn:uuid:after")
        let revokeAfter = a.write(.revoke, .status(StatusPayload(credentialID: "urn:uuid:before")))
        f.orgs[0].sign(.undelegation(Undelegation(feed: a.feed, reason: .compromised, through: cutAt.seq, entry: cutAt.id)))
        b.publish(f.orgs[0].record)
        let r = f.registry(a.entries + b.entries)
        #expect(r.authority(of: a.feed, seq: before.seq).org == f.orgs[0].id)
        if case .cutOff = r.authority(of: a.feed, seq: after.seq) {} else { Issue.record("an entry after the cut must be cut off") }
        // A replica holding another entry at S: the fork counts for nothing.
        let forked = r.authority(of: a.feed, seq: before.seq) { _ in Bytes32([UInt8](repeating: 9, count: 32))! }
        #expect(forked.reason?.contains("fork") == true)

        let keyAfter = CredentialKey(feed: a.feed, id: "urn:uuid:after")
        let m = FederatedMerge.resolve(keyAfter, issues: [IssueFact(after)], changes: [], registry: r)!
        #expect(m.resolution.base == .revoked)
        #expect(m.authority.reason?.contains("compromised") == true)
        // The stolen key re-issues the pre-cut credential's id, backdated: the real issue stands.
        let reissue = a.issue("urn:uuid:before", at: 1)
        let r3 = f.registry(a.entries + b.entries)
        let m3 = FederatedMerge.resolve(CredentialKey(feed: a.feed, id: "urn:uuid:before"), issues: [IssueFact(before), IssueFact(reissue)], changes: [], registry: r3)!
        #expect(m3.resolution.issue?.entry == before.id)
        #expect(m3.resolution.base == .active)
        // The cut-off feed's revoke of a credential issued before the cut counts for nothing.
        let keyBefore = CredentialKey(feed: a.feed, id: "urn:uuid:before")
        let m2 = FederatedMerge.resolve(keyBefore, issues: [IssueFact(before)], changes: [StatusFact(revokeAfter)], registry: r)!
        #expect(m2.resolution.base == .active)
    }

    @Test("two campuses of one organization change one credential's status: revocation terminal, suspend/reinstate by HLC, in every order", arguments: propertySeeds)
    func siblings(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var f = TestFederation()
        var a = TestCampus()
        var b = TestCampus()
        var stranger = TestCampus()
        f.orgs[0].sign(a.delegation)
        f.orgs[0].sign(b.delegation)
        f.orgs[1].sign(stranger.delegation)  // a campus of another member
        a.publish(f.orgs[0].record)
        b.publish(f.orgs[0].record)
        stranger.publish(f.orgs[1].record)
        let issue = a.issue("urn:uuid:shared", at: 1_000)
        let key = CredentialKey(feed: a.feed, id: "urn:uuid:shared")
        var changes: [StatusFact] = []
        for i in 0..<Int.random(in: 1...8, using: &rng) {
            let kind = [EntryKind.suspend, .reinstate, .suspend, .reinstate, .revoke].randomElement(using: &rng)!
            let at = Int64.random(in: 1_001...1_010, using: &rng)
            let payload = EntryPayload.status(StatusPayload(credentialID: key.id))
            switch i % 3 {
            case 0: changes.append(StatusFact(a.write(kind, payload, at: at)))
            case 1: changes.append(StatusFact(b.write(kind, payload, at: at)))
            default: changes.append(StatusFact(stranger.write(kind, payload, at: at)))
            }
        }
        let r = f.registry(a.entries + b.entries + stranger.entries)
        let counted = changes.filter { $0.feed != stranger.feed }
        let expected = CredentialMerge.resolve(IssueFact(issue), authorized: counted)
        for _ in 0..<6 {
            let m = FederatedMerge.resolve(key, issues: [IssueFact(issue)], changes: changes.shuffled(using: &rng), registry: r)!
            #expect(m.resolution == expected, "seed \(seed)")
        }
        if counted.contains(where: { $0.kind == .revoke }) { #expect(expected.base == .revoked, "seed \(seed)") }
    }
}
