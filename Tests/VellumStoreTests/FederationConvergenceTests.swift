@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore
import VellumNode
import VellumStore
import VellumTestSupport

/// A campus partitioned while its university cuts it off as compromised through seq S: the
/// campus keeps issuing and changing statuses, a sibling campus keeps working too. Whatever
/// order gossip delivers the entries in (any interleaving of feeds, any batching, duplicates),
/// every replica ends in one state, with the entries after S counting for nothing. A stranger's
/// key (no member delegated it) revokes and reinstates the campuses' credentials among them,
/// and counts for nothing in any order, whatever number each replica gives its feed. With the
/// stolen key file, the thief also re-issues a credential after S, stamped before its real
/// issue: every answer's evidence is still the real issue and the real deciding entry.
@Suite("Federation: convergence in every arrival order, in process")
struct FederationConvergenceTests {
    struct Setup {
        let root: String
        let genesis: FederationDocument
        var nodes: [String: Node] = [:]
        var ids: [String: String] = [:]
        var cut: UInt64 = 0
        /// A key no member delegated: it revokes x and w and reinstates y, stamped after everyone.
        var stranger: [Entry] = []
        /// The issue entries of x and y, and b's suspension of x.
        var evidence: [String: EntryID] = [:]
        /// The thief's re-issue of x with a's stolen key: after S, stamped before x's real issue,
        /// naming another document.
        var backdated: Entry?
        /// x's signed document, as its holder presents it.
        var document: String?
        /// The thief's document of x (another name), signed with the stolen key: what the
        /// back-dated re-issue records.
        var forgedDocument: String?
    }

    static func org(_ root: String, _ name: String) throws -> OrgDirectory {
        _ = try OrgDirectory.create(at: root + "/" + name, name: name)
        return OrgDirectory(path: root + "/" + name)
    }

    static func delegate(_ node: Node, by org: OrgDirectory) throws {
        let record = try org.append(.delegation(Delegation(feed: node.feed, transport: node.transport.publicKey, endpoint: nil, until: nil)))
        try node.publish(record)
    }

    static func build() async throws -> Setup {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-fed-\(UUID().uuidString)").path
        let aalto = try org(root, "Aalto"), coimbra = try org(root, "Coimbra")
        let founders = [try aalto.events(), try coimbra.events()]
        let genesis = Genesis(name: "F", threshold: 1, founders: founders.map { $0[0].org })
        var document = FederationDocument.genesis(genesis, events: [])
        for o in [aalto, coimbra] {
            guard case .organization(let log) = try o.append(.endorsement(digest: genesis.digest)) else { continue }
            document = document.replacingEvents(of: log[0].org, with: log)
        }
        var setup = Setup(root: root, genesis: document)
        for (name, o) in [("a", aalto), ("b", aalto), ("c", coimbra)] {
            let node = try Node.create(at: root + "/" + name, name: name, baseURL: "https://\(name).example", federation: document)
            try delegate(node, by: o)
            setup.nodes[name] = node
        }
        let (a, b, c) = (setup.nodes["a"]!, setup.nodes["b"]!, setup.nodes["c"]!)
        func issue(_ node: Node, _ label: String) async throws {
            setup.ids[label] = try await node.issue(CredentialRequest(subject: "did:example:\(label)", achievementName: label)).id
        }
        try await issue(a, "x")
        try await issue(a, "y")
        try await issue(c, "w")
        // b (the sibling) learns a's entries and suspends x.
        _ = try b.importVerified(try await EntryVerifier.verifyContents(try a.store.entries(feed: a.feed, fromSeq: 1, limit: 1000)))
        try b.changeStatus(.suspend, of: setup.ids["x"]!, reason: nil)
        setup.evidence["x suspended"] = try b.status(of: setup.ids["x"]!).resolution?.decidedBy
        for label in ["x", "y"] { setup.evidence[label] = try a.store.statusRecord(of: CredentialKey(feed: a.feed, id: setup.ids[label]!))?.issue.id }
        // a is stolen: Aalto cuts it through its head; meanwhile the thief writes on.
        setup.cut = try a.store.heads()[a.feed]!.seq
        let accepted = try a.store.entryID(feed: a.feed, seq: setup.cut)!
        _ = try a.importVerified(try await EntryVerifier.verifyContents(try b.store.entries(feed: b.feed, fromSeq: 1, limit: 1000)))
        try await issue(a, "late")
        try a.changeStatus(.revoke, of: setup.ids["y"]!, reason: "thief")
        try a.changeStatus(.reinstate, of: setup.ids["x"]!, reason: "thief")
        // With the stolen key file, the thief re-issues x, stamped long before its real issue,
        // recording the digest of a document of its own: x under another name, signed with the
        // stolen key (valid as a signature: the key is the issuer's).
        let seed = String(decoding: FileManager.default.contents(atPath: a.directory.keyPath)!, as: UTF8.self)
        let stolen = try Curve25519.Signing.PrivateKey(rawRepresentation: Hex.decode(seed.trimmingCharacters(in: .whitespacesAndNewlines))!)
        var thief = FeedWriter(key: stolen, head: try a.store.heads()[a.feed], clock: HLC(rawValue: 0))
        let realIssue = try a.store.statusRecord(of: CredentialKey(feed: a.feed, id: setup.ids["x"]!))!.issue
        guard case .issue(var forged) = try EntryPayload(stored: .issue, bytes: realIssue.payload) else { throw VellumError(.invalidEntry, "not an issue") }
        setup.document = try a.store.localDocument(of: CredentialKey(feed: a.feed, id: setup.ids["x"]!))
        let real = try JSON(parsing: setup.document!)
        let fake = try DataIntegrity.sign(
            real.removing("proof").setting("name", to: "Doctorate"),
            options: .init(verificationMethod: a.did.verificationMethod, created: real["validFrom"]!.stringValue!), with: stolen)
        setup.forgedDocument = fake.canonicalString
        forged.digest = OpenBadges.digest(fake)
        setup.backdated = thief.append([(.issue, .issue(forged))], now: Timestamp(millisecondsSinceEpoch: 1_000))[0].entry
        #expect(setup.backdated!.hlc < realIssue.hlc && setup.backdated!.seq > setup.cut)
        try c.publish(try aalto.append(.undelegation(Undelegation(feed: a.feed, reason: .compromised, through: setup.cut, entry: accepted))))
        // The sibling keeps working: it suspends y.
        try b.changeStatus(.suspend, of: setup.ids["y"]!, reason: nil)
        var stranger = FeedWriter(key: Curve25519.Signing.PrivateKey(), head: nil, clock: HLC(rawValue: 0))
        let later = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000) + 60_000)
        setup.stranger = stranger.append(
            [(.revoke, .status(.init(credentialID: setup.ids["x"]!, reason: "takeover"))),
             (.revoke, .status(.init(credentialID: setup.ids["w"]!, reason: "takeover"))),
             (.reinstate, .status(.init(credentialID: setup.ids["y"]!, reason: "takeover")))], now: later
        ).map(\.entry)
        return setup
    }

    @Test("every arrival order gives the same feeds and one answer per credential; nothing a cut-off key wrote after S counts, nor what a stranger's key wrote", arguments: propertySeeds)
    func everyOrder(seed: UInt64) async throws {
        let setup = try await Self.build()
        defer { try? FileManager.default.removeItem(atPath: setup.root) }
        var feeds: [[Entry]] = []
        for node in setup.nodes.values.sorted(by: { $0.name < $1.name }) {
            feeds.append(try node.store.entries(feed: node.feed, fromSeq: 1, limit: 10_000))
        }
        feeds[0].append(setup.backdated!)  // a's feed, as the thief gossips it
        feeds.append(setup.stranger)
        var rng = SeededGenerator(seed: seed)
        var reference: [String]?
        for round in 0..<4 {
            let replica = try Node.create(
                at: setup.root + "/r\(seed)-\(round)", name: "replica", baseURL: "https://r.example", federation: setup.genesis)
            var next = feeds.map { _ in 0 }
            while next.indices.contains(where: { next[$0] < feeds[$0].count }) {
                let f = next.indices.filter { next[$0] < feeds[$0].count }.randomElement(using: &rng)!
                // A batch: a run of this feed's next entries, sometimes with an older one again.
                let run = Array(feeds[f][next[f]..<min(feeds[f].count, next[f] + Int.random(in: 1...3, using: &rng))])
                var batch = run
                if next[f] > 0, Bool.random(using: &rng) { batch.insert(feeds[f][Int.random(in: 0..<next[f], using: &rng)], at: 0) }
                next[f] += run.count
                _ = try replica.importVerified(try await EntryVerifier.verifyContents(batch))
            }
            #expect(try replica.store.head(of: setup.stranger[0].feed)?.seq == 3, "seed \(seed): the stranger's entries are kept")
            // The replica's own feed holds only its copy of the genesis: compare the rest.
            let heads = try replica.store.heads().values.filter { $0.feed != replica.feed }.sorted { $0.feed < $1.feed }
            var answers = [heads.map { "\($0.feed.hex.prefix(8)) \($0.seq) \($0.id.hex.prefix(8))" }.joined(separator: ",")]
            for label in ["x", "y", "w", "late"] {
                let r = try replica.status(of: setup.ids[label]!)
                answers.append("\(label) \(r.status.rawValue) \(r.trust?.trusted ?? false)")
                // The trust path after its genesis: any published copy of the genesis proves it,
                // and which copy a replica holds first depends on the order.
                let path = (r.trust?.evidence ?? []).dropFirst()
                answers.append("\(label) evidence \(r.evidence.map(\.id.hex)) trust path \(path.map(\.id.hex))")
                // The bytes served (written directly, trust path and its reason included) are the answer's canonical JSON.
                #expect(r.trust != nil && r.canonicalBytes == r.json.canonicalBytes, "seed \(seed): \(label)")
            }
            // The holder's real document, checked in every order against the real issue, not
            // the thief's re-issue.
            let verified = try replica.verify(try JSON(parsing: setup.document!))
            answers.append("verify ledger \(verified.report.checks.first { $0.name == "ledger" }?.ok == true)")
            // The thief's document: its proof verifies (the stolen key is the issuer's), but the
            // ledger's issue of x is the real one; the re-issue after S counts for nothing.
            let forged = try replica.verify(try JSON(parsing: setup.forgedDocument!))
            answers.append("forged proof \(forged.report.checks.first { $0.name == "proof" }?.ok == true) ledger \(forged.report.checks.first { $0.name == "ledger" }?.ok == true) verified \(forged.report.verified)")
            if let reference {
                #expect(answers == reference, "seed \(seed) round \(round): the arrival order changed the state")
            } else {
                reference = answers
                #expect(answers[1] == "x suspended true", "seed \(seed): the thief's reinstate after S counts for nothing")
                #expect(answers[3] == "y suspended true", "seed \(seed): the thief's revoke after S counts for nothing; the sibling's suspension does")
                #expect(answers[5] == "w active true", "seed \(seed): a stranger's revocation counts for nothing")
                #expect(answers[7] == "late revoked false", "seed \(seed): issued after the cut, read as revoked")
                let x = try replica.status(of: setup.ids["x"]!), y = try replica.status(of: setup.ids["y"]!)
                #expect(x.evidence.map(\.id) == [setup.evidence["x"]!, setup.evidence["x suspended"]!],
                        "seed \(seed): x's evidence is its real issue and the sibling's suspension, never the thief's backdated re-issue")
                #expect(y.evidence.first?.id == setup.evidence["y"]! && y.evidence.count == 2, "seed \(seed): y's evidence starts with its real issue")
                #expect(answers[answers.count - 2] == "verify ledger true", "seed \(seed): \(verified.report.checks)")
                #expect(answers.last == "forged proof true ledger false verified false", "seed \(seed): the thief's document: \(forged.report.checks)")
                #expect(x.trust?.evidence.isEmpty == false && x.trust?.evidence.allSatisfy { $0.kind == .document } == true,
                        "seed \(seed): the trust path is the federation's documents")
            }
        }
    }

    /// The registry is kept by the rowid of the log's last entry; SQLite gives a rolled-back
    /// row's rowid to the next row stored, so a write transaction that read the registry and
    /// was rolled back must leave nothing behind, however alike the next rows are.
    @Test("a registry read inside a write that is rolled back is not kept: the entries committed next, at the same rowids and ending with the same entry, do not bring back the document that never was")
    func registryOfARolledBackWrite() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-fed-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let aalto = try Self.org(root, "Aalto")
        let genesis = Genesis(name: "F", threshold: 1, founders: [try aalto.events()[0].org])
        guard case .organization(let log) = try aalto.append(.endorsement(digest: genesis.digest)) else { throw VellumError(.invalidInput, "no log") }
        let a = try Node.create(
            at: root + "/a", name: "a", baseURL: "https://a.example", federation: FederationDocument.genesis(genesis, events: []).replacingEvents(of: log[0].org, with: log))
        try Self.delegate(a, by: aalto)
        let id = try await a.issue(CredentialRequest(subject: "did:example:x", achievementName: "x")).id
        #expect(try a.trust(a.did.did).trusted)
        // Aalto's cut of a, carried by some feed, then another feed's entry, stored in a
        // transaction that reads the registry (a trust answer) and is then rolled back.
        let head = try a.store.heads()[a.feed]!
        let cut = try aalto.append(.undelegation(Undelegation(feed: a.feed, reason: .compromised, through: head.seq, entry: head.id)))
        func entry(_ kind: EntryKind, _ payload: EntryPayload) -> [LinkedEntry] {
            var writer = FeedWriter(key: Curve25519.Signing.PrivateKey(), head: nil, clock: HLC(rawValue: 0))
            return writer.append([(kind, payload)], now: a.now())
        }
        let carried = entry(.document, .document(cut))
        let last = entry(.suspend, .status(.init(credentialID: "urn:uuid:elsewhere", reason: nil)))
        struct RolledBack: Error {}
        var rolledBack: Int64?
        #expect(throws: RolledBack.self) {
            try a.store.transaction {
                try a.store.append(carried + last)
                rolledBack = try a.store.lastRowID()
                #expect(try !a.trust(a.did.did).trusted, "the cut counts inside its own transaction")
                throw RolledBack()
            }
        }
        // Gossip then stores another entry and the same last one: the same rowids, the same
        // last entry, no document.
        try a.store.transaction { try a.store.append(entry(.suspend, .status(.init(credentialID: "urn:uuid:other", reason: nil))) + last) }
        #expect(try a.store.lastRowID() == rolledBack)
        #expect(try a.store.documentCount() == 2)  // the genesis and a's delegation: the cut never was
        #expect(try a.trust(a.did.did).trusted)
        #expect(try a.status(of: id).trust?.trusted == true)
    }
}
