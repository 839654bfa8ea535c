@preconcurrency import Crypto
import VellumCore
import VellumStore

extension Node {
    /// Issues credentials: validates every request first (nothing is issued if one is bad),
    /// then signs and appends them in batches, one transaction each, using every core.
    /// `onBatch` runs after each commit with the credentials it made durable.
    public func issue(
        _ requests: [CredentialRequest], batchSize: Int = 1000, onBatch: ([IssuedCredential]) throws -> Void = { _ in }
    ) throws {
        let checkTime = clock()
        for request in requests { _ = try request.validated(validFrom: checkTime) }
        var start = 0
        while start < requests.count {
            let batch = Array(requests[start..<min(requests.count, start + batchSize)])
            let issued = try appendToOwnFeed { writer, now in
                let firstIndex = Int(try store.meta("next_status_index") ?? "0") ?? 0
                var rng = SystemRandomNumberGenerator()
                let contexts = batch.indices.map { i in
                    IssuanceContext(
                        issuer: did, issuerName: name, credentialUUID: randomBytes(16, &rng), subjectSalt: randomBytes(16, &rng),
                        validFrom: now, statusListIndex: firstIndex + i, statusListBaseURL: baseURL)
                }
                let key = self.key
                let results = Parallel.map(Array(zip(batch, contexts)), chunk: 64) { pair -> Result<IssuedCredential, VellumError> in
                    do throws(VellumError) { return .success(try OpenBadges.issue(pair.0, context: pair.1, key: key)) } catch {
                        return .failure(error)
                    }
                }
                let issued = try results.map { try $0.get() }
                let entries = writer.append(issued.map { (.issue, .issue($0.payload)) }, now: now)
                let local = issued.map {
                    LocalCredential(credentialID: $0.id, subject: $0.subject, salt: $0.subjectSalt, document: $0.document.canonicalString)
                }
                try store.append(entries, local: local)
                try store.setMeta("next_status_index", String(firstIndex + batch.count))
                return issued
            }
            try onBatch(issued)
            start += batch.count
        }
    }

    /// Issues one credential.
    public func issue(_ request: CredentialRequest) throws -> IssuedCredential {
        var result: IssuedCredential?
        try issue([request]) { result = $0.first }
        return result!
    }
}

private func randomBytes(_ count: Int, _ rng: inout SystemRandomNumberGenerator) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}
