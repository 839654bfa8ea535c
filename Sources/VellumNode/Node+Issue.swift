@preconcurrency import Crypto
import VellumCore
import VellumStore

/// Where this node's feed stands: what a batch of issuance builds on.
struct FeedState: Equatable, Sendable {
    var head: FeedHead?
    var clock: HLC
    var nextStatusIndex: Int
    /// Signatures since the last checkpoint (`FeedWriter.pending`): they follow from the head,
    /// so equality leaves them out.
    var pending: [[UInt8]]

    static func == (a: FeedState, b: FeedState) -> Bool {
        a.head == b.head && a.clock == b.clock && a.nextStatusIndex == b.nextStatusIndex
    }

    func writer(_ key: Curve25519.Signing.PrivateKey) -> FeedWriter { FeedWriter(key: key, head: head, clock: clock, pending: pending) }
}

/// A batch of credentials signed and chained on top of an assumed `FeedState`, ready to store.
struct PreparedBatch: Sendable {
    let before: FeedState
    let after: FeedState
    let issued: [IssuedCredential]
    let entries: [LinkedEntry]
}

/// Who signs, and how credentials name their issuer and status lists.
struct Issuer: @unchecked Sendable {  // Curve25519 keys are immutable values
    let key: Curve25519.Signing.PrivateKey
    let did: DIDKey
    let name: String
    let baseURL: String
    /// The organization a campus issues for (`issuer.parentOrg`), in a federation.
    var parentOrg: (id: String, name: String)?

    /// Signs the credentials and their issue entries, on every core. Pure but for randomness.
    func prepare(_ requests: [CredentialRequest], on state: FeedState, now: Timestamp) async throws(VellumError) -> PreparedBatch {
        let random = secureRandomBytes(32 * requests.count)
        let contexts = requests.indices.map { i in
            IssuanceContext(
                issuer: did, issuerName: name, credentialRandom: Array(random[(32 * i)..<(32 * i + 16)]),
                subjectSalt: Array(random[(32 * i + 16)..<(32 * i + 32)]), validFrom: now,
                statusListIndex: state.nextStatusIndex + i, statusListBaseURL: baseURL, parentOrg: parentOrg)
        }
        let key = self.key
        let results = await Parallel.map(Array(zip(requests, contexts)), chunk: 64) { pair -> Result<IssuedCredential, VellumError> in
            do throws(VellumError) { return .success(try OpenBadges.issue(pair.0, context: pair.1, key: key)) } catch {
                return .failure(error)
            }
        }
        var issued: [IssuedCredential] = []
        issued.reserveCapacity(results.count)
        for result in results { issued.append(try result.get()) }
        var writer = state.writer(key)
        var entries = await writer.appendSigningInParallel(issued.map { (.issue, .issue($0.payload)) }, now: now)
        // A bulk batch closes its run: a replica checks all of it with one signature per run,
        // not its last entries one by one until the writer reaches the next checkpoint position.
        if requests.count > 1 { entries += writer.closeRun(now: now) }
        let after = FeedState(head: writer.head, clock: writer.clock, nextStatusIndex: state.nextStatusIndex + requests.count, pending: writer.pending)
        return PreparedBatch(before: state, after: after, issued: issued, entries: entries)
    }
}

extension Node {
    var issuer: Issuer { Issuer(key: key, did: did, name: name, baseURL: baseURL) }

    /// `pending: false` leaves out the signatures a writer needs: enough to compare states.
    func readFeedState(pending: Bool = true) throws -> FeedState {
        let head = try store.heads()[feed]
        return FeedState(
            head: head, clock: HLC(rawValue: UInt64(try store.meta("clock") ?? "0") ?? 0),
            nextStatusIndex: Int(try store.meta("next_status_index") ?? "0") ?? 0,
            pending: try head.map { pending ? try store.signaturesSinceCheckpoint(feed: feed, head: $0.seq) : [] } ?? [])
    }

    func writeFeedState(_ state: FeedState) throws {
        try store.setMeta("clock", String(state.clock.rawValue))
        try store.setMeta("next_status_index", String(state.nextStatusIndex))
    }

    /// Issues credentials: validates every request first (nothing is issued if one is bad),
    /// then signs and appends them in batches, one transaction each. Signing happens outside
    /// the write transaction, so other writers wait only for the appends; the next batch is
    /// signed (on every core) while the current one is stored. If another process appended
    /// in between, a prepared batch no longer fits the feed's head and is signed again.
    /// A batch that opens a new status list also publishes its first (all clear) signed lists.
    /// `onBatch` runs after each commit with the credentials it made durable.
    /// `rows`, one per request, records which bulk file row each credential was issued for.
    public func issue(
        _ requests: [CredentialRequest], rows: [BulkRow]? = nil, batchSize: Int = 4000,
        onBatch: ([IssuedCredential]) async throws -> Void = { _ in }
    ) async throws {
        precondition(rows.map { $0.count == requests.count } ?? true, "one bulk row per request")
        let checkTime = clock()
        for request in requests { _ = try request.validated(validFrom: checkTime) }
        let batches = stride(from: 0, to: requests.count, by: batchSize).map {
            Array(requests[$0..<min(requests.count, $0 + batchSize)])
        }
        guard let first = batches.first else { return }
        var issuer = self.issuer
        issuer.parentOrg = try issuingOrganization()
        var prepared = try await issuer.prepare(first, on: try readFeedState(), now: clock())
        for (k, batch) in batches.enumerated() {
            let (now, assumed) = (clock(), prepared.after)
            async let following = k + 1 < batches.count ? issuer.prepare(batches[k + 1], on: assumed, now: now) : nil
            var attempts = 0
            let batchRows = rows.map { Array($0[(k * batchSize)..<(k * batchSize + batch.count)]) }
            while true {
                if let issued = try store(prepared, rows: batchRows) {
                    try await onBatch(issued)
                    break
                }
                attempts += 1
                guard attempts < 5 else {
                    throw VellumError(.conflict, "this node's feed keeps moving (another vellum process is writing to it); nothing more was issued, try again")
                }
                prepared = try await issuer.prepare(batch, on: try readFeedState(), now: clock())
            }
            if let next = try await following { prepared = next }
        }
    }

    /// Appends a prepared batch in one write transaction, unless the feed moved since it was
    /// signed (nil: sign it again).
    private func store(_ batch: PreparedBatch, rows: [BulkRow]?) throws -> [IssuedCredential]? {
        try store.transaction {
            guard try readFeedState(pending: false) == batch.before else { return nil }
            let local = batch.issued.enumerated().map { i, credential in
                LocalCredential(
                    credentialID: credential.id, subject: credential.subject, salt: credential.subjectSalt,
                    document: String(decoding: credential.canonicalDocument, as: UTF8.self), row: rows?[i])
            }
            try store.append(batch.entries, local: local)
            var after = batch.after
            let opened = newLists(from: batch.before.nextStatusIndex, to: after.nextStatusIndex)
            if !opened.isEmpty {
                var writer = after.writer(key)
                try publish(opened, with: &writer, now: clock())
                after = FeedState(head: writer.head, clock: writer.clock, nextStatusIndex: after.nextStatusIndex, pending: writer.pending)
            }
            try writeFeedState(after)
            return batch.issued
        }
    }

    /// The rows of a bulk file (by `BulkIssuance.digest` of its bytes) earlier runs issued:
    /// their lines and credential ids.
    public func bulkIssued(of file: [UInt8]) throws -> [Int: String] {
        Dictionary(uniqueKeysWithValues: try store.bulkRowIDs(file: file).map { ($0.line, $0.id) })
    }

    /// Records a bulk run of `file` (its digest) read from `path`, with `rows` rows. Refuses
    /// when another version of the file at that path stopped partway: the rows it issued would
    /// go out again, under new ids. `path` "-" (standard input) is not recorded.
    public func beginBulkRun(file: [UInt8], path: String, rows: Int) throws {
        guard path != "-" else { return }
        try store.transaction {
            for run in try store.bulkRuns(path: path) where run.file != file {
                let issued = try store.bulkRowCount(file: run.file)
                if issued > 0, issued < run.rows {
                    throw VellumError(
                        .conflict,
                        "\(path) changed since a run of it stopped after issuing \(issued) of its \(run.rows) rows: run the file as it was to finish that run (those rows are issued once), or, for new rows, save them under another name")
                }
            }
            try store.addBulkRun(file: file, path: path, rows: rows)
        }
    }

    /// Issues one credential per row of a bulk file, at most once per row of the same file
    /// (`file`: `BulkIssuance.digest` of its bytes): a re-run after an interruption issues only the rows
    /// still missing, and first hands back, from this node's documents, the rows an earlier
    /// run issued, so their files can be written again. Returns how many rows that was.
    public func issue(
        _ rows: [BulkIssuance.Row], file: [UInt8], batchSize: Int = 4000, onBatch: ([BulkCredential]) async throws -> Void
    ) async throws -> Int {
        let earlier = try store.bulkRows(file: file)
        for start in stride(from: 0, to: earlier.count, by: batchSize) {
            try await onBatch(earlier[start..<min(earlier.count, start + batchSize)].map { row in
                BulkCredential(line: row.line, id: row.id, canonicalDocument: Array(row.document.utf8))
            })
        }
        let done = Set(earlier.map(\.line))
        let missing = rows.filter { !done.contains($0.line) }
        var next = 0
        // A row another process issued meanwhile is refused by `bulk_rows`' key: a conflict.
        try await issue(missing.map(\.request), rows: missing.map { BulkRow(file: file, line: $0.line) }, batchSize: batchSize) { batch in
            let lines = missing[next..<(next + batch.count)].map(\.line)
            next += batch.count
            try await onBatch(zip(lines, batch).map { BulkCredential(line: $0, id: $1.id, canonicalDocument: $1.canonicalDocument) })
        }
        return earlier.count
    }

    /// Issues one credential.
    public func issue(_ request: CredentialRequest) async throws -> IssuedCredential {
        var result: IssuedCredential?
        try await issue([request]) { result = $0.first }
        return result!
    }
}

/// A credential of a bulk run and the row it was issued for.
public struct BulkCredential: Sendable {
    public let line: Int
    public let id: String
    /// The signed document's canonical (JCS) bytes.
    public let canonicalDocument: [UInt8]
}

/// Bytes from a CSPRNG (BoringSSL's RAND_bytes, seeded by the kernel), one call per batch.
func secureRandomBytes(_ count: Int) -> [UInt8] {
    SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { Array($0) }
}
