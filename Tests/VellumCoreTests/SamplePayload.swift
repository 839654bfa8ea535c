import VellumCore

/// An issue payload with placeholder digest and subject commitment, for entries in tests.
func samplePayload(_ credentialID: String, issuer: String, validUntil: String? = nil, statusListIndex: Int = 0) -> IssuePayload {
    IssuePayload(
        credentialID: credentialID, digest: String(repeating: "ab", count: 32), issuer: issuer, achievementID: "urn:uuid:a",
        achievementName: "A", achievementType: "Badge", validFrom: "2026-01-01T00:00:00Z", validUntil: validUntil,
        statusListIndex: statusListIndex, subjectCommitment: String(repeating: "cd", count: 32))
}
