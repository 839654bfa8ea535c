// Scripts/bench's measurements: each figure next to the physical limit measured in the same
// run on the same machine, and their ratio. Run from Scripts/bench (release build).
@preconcurrency import Crypto
import CSQLite
import Foundation
import VellumCore
import VellumHTTP
import VellumNode
import VellumSimulation
import VellumStore

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try await body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func rate(_ count: Int, _ body: () async throws -> Void) async rethrows -> Double { Double(count) / (try await seconds(body)) }

func scratchDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-bench-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

// Helpers for the HTTP figures (Scripts/bench runs them as separate processes), the
// in-process answer's A/B and the hostile load of Scripts/hostile.
switch CommandLine.arguments.dropFirst().first {
case "ledger":
    let a = CommandLine.arguments
    try await HTTPBench.ledger(at: a[2], count: Int(a[3])!, ids: a[4], federation: a.contains("--federation"))
    exit(0)
case "bare-http":
    let a = CommandLine.arguments.filter { $0 != "--hop" }
    try await HTTPBench.bareServer(endpointFile: a[2], bodyBytes: a.count > 3 ? Int(a[3])! : 0, hop: CommandLine.arguments.contains("--hop"))
    exit(0)
case "answers":
    let a = CommandLine.arguments
    try await HTTPBench.answers(at: a[2], ids: a[3], count: Int(a[4])!, rounds: Int(a[5])!)
    exit(0)
case "attack":
    try await HostileLoad.run(data: CommandLine.arguments[2], messages: Int(CommandLine.arguments[3])!)
    exit(0)
default:
    break
}

// `--smoke`: every figure at a tiny size (Scripts/test runs it, so the benchmarks cannot rot).
let smoke = CommandLine.arguments.contains("--smoke")
let count = smoke ? 300 : Int(CommandLine.arguments.dropFirst().first ?? "") ?? 100_000
let cores = ProcessInfo.processInfo.activeProcessorCount
print("vellum bench: \(count) credentials, \(cores) cores")

// Limit 1: raw Ed25519 signatures per second on every core (64-byte messages).
nonisolated(unsafe) let key = Curve25519.Signing.PrivateKey()
let messages = (0..<count).map { i in Array(SHA512.hash(data: withUnsafeBytes(of: i) { Array($0) })) }
let signRate = await rate(count) { _ = await Parallel.map(messages) { try! key.signature(for: $0) } }
print(String(format: "raw Ed25519 sign, all cores:      %10.0f /s", signRate))

let sqliteDir = scratchDirectory()
defer { try? FileManager.default.removeItem(atPath: sqliteDir) }

/// Raw C SQLite (WAL, `synchronous=NORMAL`): creates `file` with `schema`, then stores `count`
/// items, `perTransaction` to a transaction, each by running every statement of `inserts`
/// once after `bind(statements, i)` bound its values. Returns items per second; the file is
/// checkpointed and closed after, so its size is what the items take.
func rawInserts(_ file: String, schema: String, inserts: [String], perTransaction: Int, bind: ([OpaquePointer?], Int) -> Void) async -> Double {
    var db: OpaquePointer?
    sqlite3_open(sqliteDir + "/" + file, &db)
    sqlite3_exec(db, schema + "; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", nil, nil, nil)
    let statements = inserts.map { sql -> OpaquePointer? in
        var stmt: OpaquePointer?
        sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        return stmt
    }
    let itemsPerSecond = await rate(count) {
        for batchStart in stride(from: 0, to: count, by: perTransaction) {
            sqlite3_exec(db, "BEGIN", nil, nil, nil)
            for i in batchStart..<min(count, batchStart + perTransaction) {
                for stmt in statements { sqlite3_reset(stmt) }
                bind(statements, i)
                for stmt in statements { sqlite3_step(stmt) }
            }
            sqlite3_exec(db, "COMMIT", nil, nil, nil)
        }
    }
    for stmt in statements { sqlite3_finalize(stmt) }
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nil, nil, nil)
    sqlite3_close(db)
    return itemsPerSecond
}

// Limit 2: raw SQLite inserts, rows shaped like an entry plus its state and document, 1,000
// to a transaction.
let payload = [UInt8](repeating: 0x61, count: 420), document = String(repeating: "d", count: 1900)
let insertRate = await rawInserts(
    "raw.sqlite", schema: "CREATE TABLE t (id BLOB PRIMARY KEY, feed BLOB, seq INTEGER, payload BLOB, signature BLOB, doc TEXT)",
    inserts: ["INSERT INTO t VALUES (?,?,?,?,?,?)"], perTransaction: 1000
) { s, i in
    sqlite3_bind_blob(s[0], 1, messages[i], 32, csqlite_transient())
    sqlite3_bind_blob(s[0], 2, messages[0], 32, csqlite_transient())
    sqlite3_bind_int64(s[0], 3, Int64(i))
    sqlite3_bind_blob(s[0], 4, payload, Int32(payload.count), csqlite_transient())
    sqlite3_bind_blob(s[0], 5, messages[i], 64, csqlite_transient())
    sqlite3_bind_text(s[0], 6, document, -1, csqlite_transient())
}
print(String(format: "raw SQLite insert (1 row, WAL):   %10.0f /s", insertRate))

// Limit 2b: raw SQLite inserts of 700-byte rows (an entry's size) keyed by a random 32-byte id,
// all in one WAL transaction: what storing a replicated entry costs at the least.
let row700 = [UInt8](repeating: 0x62, count: 700 - 32)
let rowRate = await rawInserts(
    "raw700.sqlite", schema: "CREATE TABLE t (id BLOB PRIMARY KEY, row BLOB)", inserts: ["INSERT INTO t VALUES (?,?)"], perTransaction: count
) { s, i in
    sqlite3_bind_blob(s[0], 1, messages[i], 32, csqlite_transient())
    sqlite3_bind_blob(s[0], 2, row700, Int32(row700.count), csqlite_transient())
}
print(String(format: "raw SQLite insert (700 B, 1 txn): %10.0f /s", rowRate))

// Limit 2c: the same entries stored the way a replica must keep them (Docs/LEDGER.md): the
// entry row with its credential id, unique by (feed, seq), indexed by (credential, feed), and
// the credential's materialized row, feeds by number and entries by rowid;
// raw C SQLite, one transaction. What this
// schema costs at the least, next to the single-B-tree row of 2b; and its file size per entry.
// Time-ordered ids, as Vellum issues them (UUIDv7: 48 bits of milliseconds first), at about
// 20 a millisecond: the credential index and rows grow at their right edge, as in a real log.
let credentialIDs = (0..<count).map { i -> String in
    let ms = UInt64(1_800_000_000_000 + i / 20), r = messages[i]
    let hex = String(format: "%012llx7%03x%04x%012llx", ms, Int(r[0]) << 4 | Int(r[1] >> 4), 0x8000 | Int(r[2]) << 6 | Int(r[3] >> 2),
        r[4..<10].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    let h = Array(hex)
    return "urn:uuid:" + String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
}
let shapedPayload = [UInt8](repeating: 0x63, count: 430)
let shapeRate = await rawInserts(
    "shape.sqlite",
    schema: """
        PRAGMA page_size = 8192;
        CREATE TABLE entries (rowid INTEGER PRIMARY KEY, id BLOB NOT NULL, feed INTEGER NOT NULL, seq INTEGER NOT NULL, prev BLOB NOT NULL,
            hlc INTEGER NOT NULL, kind INTEGER NOT NULL, payload BLOB NOT NULL, signature BLOB NOT NULL, credential TEXT NOT NULL, UNIQUE (feed, seq));
        CREATE INDEX entries_by_credential_feed ON entries (credential, feed);
        CREATE TABLE credentials (credential TEXT NOT NULL, feed INTEGER NOT NULL, status TEXT NOT NULL, issue_entry INTEGER NOT NULL,
            decided_by INTEGER, valid_until INTEGER, PRIMARY KEY (credential, feed)) WITHOUT ROWID;
        """,
    inserts: [
        "INSERT INTO entries (id, feed, seq, prev, hlc, kind, payload, signature, credential) VALUES (?,?,?,?,?,1,?,?,?)",
        "INSERT INTO credentials VALUES (?,1,'active',last_insert_rowid(),NULL,1924992000000)",
    ],
    perTransaction: count
) { s, i in
    sqlite3_bind_blob(s[0], 1, messages[i], 32, csqlite_transient())
    sqlite3_bind_int64(s[0], 2, 1)
    sqlite3_bind_int64(s[0], 3, Int64(i + 1))
    sqlite3_bind_blob(s[0], 4, messages[max(0, i - 1)], 32, csqlite_transient())
    sqlite3_bind_int64(s[0], 5, Int64(i) << 16)
    sqlite3_bind_blob(s[0], 6, shapedPayload, Int32(shapedPayload.count), csqlite_transient())
    sqlite3_bind_blob(s[0], 7, messages[i], 64, csqlite_transient())
    sqlite3_bind_text(s[0], 8, credentialIDs[i], -1, csqlite_transient())
    sqlite3_bind_text(s[1], 1, credentialIDs[i], -1, csqlite_transient())
}
let shapeBytes = Double((try? FileManager.default.attributesOfItem(atPath: sqliteDir + "/shape.sqlite")[.size] as? Int) ?? 0) / Double(count)
print(String(format: "raw SQLite insert, replica schema: %9.0f /s  (%.2f of 700 B rows; %.0f bytes on disk per entry)", shapeRate, shapeRate / rowRate, shapeBytes))

// Limit for issuance: two signatures and one row per credential.
let limit = 1 / (2 / signRate + 1 / insertRate)
print(String(format: "limit: 2 signatures + 1 row:      %10.0f /s", limit))

// Vellum: bulk issuance through the node (validation, JCS, proof, entry, materialized state).
let nodeDir = scratchDirectory() + "/node"
nonisolated(unsafe) let node = try Node.create(at: nodeDir, name: "Bench University", baseURL: "https://bench.example.edu")
let requests = (0..<count).map { i in
    CredentialRequest(subject: "student\(i)@example.edu", achievementName: "Lab Safety", validUntil: Timestamp(parsing: "2031-01-01T00:00:00Z"))
}
let issueRate = await rate(count) { try! await node.issue(requests) }
print(String(format: "vellum bulk issuance:             %10.0f /s  (%.2f of the limit)", issueRate, issueRate / limit))

// Audit re-verifies every signature and chain link.
var report: AuditReport?
let auditRate = await rate(count) { report = try! await node.audit() }
precondition(report!.ok)
let signatures = await Parallel.map(messages) { Array(try! key.signature(for: $0)) }
let pairs = Array(zip(signatures, messages))
let verifyRate = await rate(count) { _ = await Parallel.map(pairs) { key.publicKey.isValidSignature($0.0, for: $0.1) } }
print(String(format: "raw Ed25519 verify, all cores:    %10.0f /s", verifyRate))
print(String(format: "vellum audit:                     %10.0f entries/s  (%.2f of raw verify)", auditRate, auditRate / verifyRate))

// Hostile verify bodies: what `POST /v1/verify` does with a 1 MiB body built to be expensive
// (parse under the value budget, then verify against the ledger), against the physical limit
// of one linear pass: SHA-256 over the same bytes. Each is refused by a length, depth or count
// check before any super-linear work.
let sample = try await node.issue(CredentialRequest(subject: "hostile@example.edu", achievementName: "Lab Safety")).document
let megabyte = String(repeating: "z", count: 1_000_000)
func withProof(_ member: String, _ value: String) -> [UInt8] {
    Array(sample.setting("proof", to: sample["proof"]!.setting(member, to: .string(value))).canonicalString.utf8)
}
let hostile: [(String, [UInt8])] = [
    ("1 MB proofValue", withProof("proofValue", "z" + megabyte)),
    ("1 MB did:key", withProof("verificationMethod", "did:key:z6Mk" + megabyte)),
    ("nesting 500,000 deep", Array(String(repeating: "[", count: 500_000).utf8)),
    ("500,000 numbers", Array(("[" + String(repeating: "0,", count: 500_000) + "0]").utf8)),
    ("a 1,000,000-digit number", Array(("{\"n\":1" + String(repeating: "7", count: 1_000_000) + "}").utf8)),
]
for (what, body) in hostile {
    let runs = smoke ? 2 : 20
    let handled = try await seconds {
        for _ in 0..<runs {
            guard let json = try? JSON(parsing: body, maximumValues: VellumAPI.maxBodyValues) else { continue }
            _ = try node.verify(json)
        }
    } / Double(runs)
    let hashed = await seconds { for _ in 0..<runs { _ = SHA256.hash(data: body) } } / Double(runs)
    let label = "hostile body, \(what):".padding(toLength: 42, withPad: " ", startingAt: 0)
    print(label + String(format: "%6.2f ms  (%.1f× a SHA-256 pass over its %d bytes)", handled * 1000, handled / hashed, body.count))
}

// Replication. B holds the same entries as A (imported), then A issues 10 more: one
// reconciliation over CURVE on 127.0.0.1, counted in round trips and bytes.
let bDir = scratchDirectory() + "/b", cDir = scratchDirectory() + "/c"
nonisolated(unsafe) let b = try Node.create(at: bDir, name: "Replica B", baseURL: "https://b.example.edu")
let c = try Node.create(at: cDir, name: "Fresh C", baseURL: "https://c.example.edu")
var all: [Entry] = []
try node.store.forEachEntry { all.append($0) }
_ = try await b.importEntries(all)
let sharedHead = try node.store.heads()[node.feed]!.seq
try await node.issue(Array(requests.prefix(10)))
var tenBytes = 0
try node.store.forEachEntry { if $0.seq > sharedHead { tenBytes += $0.wireBytes.count } }
for other in [b, c] {
    try node.addPeer(address: "tcp://127.0.0.1:9", key: other.transport.publicKey)
    try other.addPeer(address: "tcp://127.0.0.1:9", key: node.transport.publicKey)
}
let serverA = try Replicator(dataPath: nodeDir)
let endpoint = try await serverA.listen("tcp://127.0.0.1:0")
await serverA.start()
var catchUpRate = 0.0
for (name, dir) in [("B", bDir), ("C", cDir)] {
    let client = try Replicator(dataPath: dir)
    await client.start()
    try await client.connect(address: endpoint, key: node.transport.publicKey)
    var total = SyncReport()
    let elapsed = try await seconds {
        while true {
            let r = try await client.syncRound(with: node.transport.publicKey)
            total.pulled += r.pulled
            total.roundTrips += r.roundTrips
            total.bytesSent += r.bytesSent
            total.bytesReceived += r.bytesReceived
            if r.pulled == 0 { break }
        }
    }
    await client.shutdown()
    if name == "C" {
        // Disk per replicated entry: the fresh replica issued nothing, so its ledger file is
        // what replication costs, next to the entries' own wire size.
        let store = try LedgerStore(path: NodeDirectory(path: dir).ledgerPath, create: false)
        try store.checkpoint()
        var entries = 0, wire = 0
        try store.forEachEntry { entries += 1; wire += $0.wireBytes.count }
        let size = (try FileManager.default.attributesOfItem(atPath: NodeDirectory(path: dir).ledgerPath)[.size] as? Int) ?? 0
        let perEntry = Double(size) / Double(entries), wirePerEntry = Double(wire) / Double(entries)
        print(String(format: "disk per replicated entry:        %10.0f bytes  (%.2f × its %.0f-byte wire size; target <= 900 bytes or <= 1.5×; raw replica schema %.0f bytes)", perEntry, perEntry / wirePerEntry, wirePerEntry, shapeBytes))
    }
    if name == "B" {
        let overhead = total.bytesSent + total.bytesReceived - tenBytes
        print("reconcile \(count) shared + 10 new:  \(total.pulled) pulled, \(total.roundTrips) round trips, \(total.bytesSent + total.bytesReceived) bytes (\(overhead) beyond the 10 entries)")
    } else {
        let catchUp = Double(total.pulled) / elapsed
        catchUpRate = catchUp
        print(String(format: "catch-up of a fresh node:         %10.0f entries/s  (%.2f of raw 700 B SQLite inserts, %.2f of raw inserts with the replica schema, %.2f of raw verify; %d entries, %d round trips)", catchUp, catchUp / rowRate, catchUp / shapeRate, catchUp / verifyRate, total.pulled, total.roundTrips))
    }
}
await serverA.shutdown()
for dir in [nodeDir, bDir, cDir] { try? FileManager.default.removeItem(atPath: dir) }

// Idle anti-entropy: two replicas holding the same 1,000 feeds, one round over CURVE; then the
// same after one feed grew on one side (the cost follows the differing feeds).
let feedCount = smoke ? 50 : 1000
let feedsEntries: [Entry] = (0..<feedCount).flatMap { i -> [Entry] in
    let key = Curve25519.Signing.PrivateKey()
    var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
    return writer.append([(.revoke, .status(StatusPayload(credentialID: "urn:uuid:00000000-0000-4000-8000-\(String(format: "%012d", i))")))], now: Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)).map(\.entry)
}
let xDir = scratchDirectory() + "/x", yDir = scratchDirectory() + "/y"
let x = try Node.create(at: xDir, name: "Replica X", baseURL: "https://x.example.edu")
let y = try Node.create(at: yDir, name: "Replica Y", baseURL: "https://y.example.edu")
_ = try await x.importEntries(feedsEntries)
_ = try await y.importEntries(feedsEntries)
try x.addPeer(address: "tcp://127.0.0.1:9", key: y.transport.publicKey)
try y.addPeer(address: "tcp://127.0.0.1:9", key: x.transport.publicKey)
let serverX = try Replicator(dataPath: xDir)
let endpointX = try await serverX.listen("tcp://127.0.0.1:0")
await serverX.start()
let clientY = try Replicator(dataPath: yDir)
await clientY.start()
try await clientY.connect(address: endpointX, key: x.transport.publicKey)
_ = try await clientY.syncRound(with: x.transport.publicKey)  // the CURVE handshake, out of the figure
let idle = try await clientY.syncRound(with: x.transport.publicKey)
print("idle anti-entropy, \(feedCount) feeds in sync: \(idle.roundTrips) round trip(s), \(idle.bytesSent + idle.bytesReceived) bytes (target: 1 round trip, <= 1 KB; every head would be \(72 * feedCount) bytes each way)")
_ = try await x.issue(CredentialRequest(subject: "late@example.edu", achievementName: "Lab Safety"))
let oneFeed = try await clientY.syncRound(with: x.transport.publicKey)
print("anti-entropy, 1 of \(feedCount + 1) feeds differs: \(oneFeed.roundTrips) round trips, \(oneFeed.bytesSent + oneFeed.bytesReceived) bytes, \(oneFeed.pulled) entries pulled")
await clientY.shutdown()
await serverX.shutdown()
for dir in [xDir, yDir] { try? FileManager.default.removeItem(atPath: dir) }


// Convergence after a partition heals, for more nodes than this machine runs as processes: the
// real protocol on a simulated network (VellumSimulation): links of 5-50 ms and 100 Mbit/s
// losing 1% of messages, each node's CPU storing at the cost per entry of the catch-up above.
// Three seeds per size: the curve of convergence time against node count.
let simulatedEntries = smoke ? 400 : 10_000
for nodes in smoke ? [4, 8] : [16, 32, 64, 128] {
    var times: [Double] = [], bytes: [Int] = [], wall = 0.0, failed = 0, rounds = 0
    for seed: UInt64 in 1...3 {
        var config = GossipSimulation.Configuration()
        config.nodes = nodes
        config.entries = simulatedEntries
        config.seed = seed
        config.storeCost = 1 / catchUpRate
        let feeds = GossipSimulation.partitionedFeeds(config)
        let start = Date()
        let outcome = GossipSimulation.run(config, feeds: feeds)
        wall += Date().timeIntervalSince(start)
        times.append(outcome.converged ?? .infinity)
        bytes.append(outcome.bytesSent[nodes / 2])
        failed += outcome.failedRounds
        rounds += outcome.rounds
    }
    print(String(
        format: "simulated convergence, %3d nodes, %d entries: %5.2f-%5.2f simulated s over seeds 1-3 (target: within 10 s at 128); median %.1f MB sent per node; %d of %d rounds failed; %.0f s to simulate",
        nodes, simulatedEntries, times.min()!, times.max()!, Double(bytes.sorted()[1]) / 1e6, failed, rounds, wall))
}
