import VellumCore
import VellumStore

extension Node {
    public static let statusPurposes = ["revocation", "suspension"]

    /// The signed `BitstringStatusListCredential` for list `number` of `purpose`: a bit set for
    /// each of this node's credentials that is revoked (or suspended) now. A university can
    /// publish it at the `statusListCredential` URL its credentials name.
    public func statusListCredential(purpose: String, list number: Int) throws -> JSON {
        guard Node.statusPurposes.contains(purpose) else {
            throw VellumError(.invalidInput, "status purpose '\(purpose)' is not revocation or suspension")
        }
        guard number >= 0 else { throw VellumError(.invalidInput, "list number \(number) is negative") }
        let size = OpenBadges.statusListSize
        var list = BitstringStatusList(size: size)
        let status: CredentialStatus = purpose == "revocation" ? .revoked : .suspended
        for index in try store.statusListIndexes(issuer: did.did, status: status) where index / size == number {
            list.set(index % size)
        }
        let now = clock()
        let url = OpenBadges.statusListURL(base: baseURL, issuer: did, purpose: purpose, index: number * size)
        let unsigned = BitstringStatusList.credential(
            url: url, purpose: purpose, encodedList: try Gzip.encodedList(list), issuer: did, validFrom: now)
        return try DataIntegrity.sign(unsigned, options: .init(verificationMethod: did.verificationMethod, created: now.rfc3339), with: key)
    }
}
