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
                let random = secureRandomBytes(32 * batch.count)
                let contexts = batch.indices.map { i in
                    IssuanceContext(
                        issuer: did, issuerName: name, credentialUUID: Array(random[(32 * i)..<(32 * i + 16)]),
                        subjectSalt: Array(random[(32 * i + 16)..<(32 * i + 32)]),
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
                    LocalCredential(credentialID: $0.id, subject: $0.subject, salt: $0.subjectSalt, document: String(decoding: $0.canonicalDocument, as: UTF8.self))
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

/// Bytes from a CSPRNG (BoringSSL's RAND_bytes, seeded by the kernel), one call per batch.
func secureRandomBytes(_ count: Int) -> [UInt8] {
    SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { Array($0) }
}
