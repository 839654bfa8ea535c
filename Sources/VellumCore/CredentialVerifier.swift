/// What the ledger holds about a credential, as input to verification.
public struct LedgerRecord: Sendable {
    public let payload: IssuePayload
    public let resolution: CredentialResolution

    public init(payload: IssuePayload, resolution: CredentialResolution) {
        self.payload = payload
        self.resolution = resolution
    }
}

/// The outcome of verifying a presented credential: every check with its result.
public struct VerificationReport: Sendable {
    public struct Check: Sendable {
        public let name: String
        public let ok: Bool
        public let detail: String
    }

    public let credentialID: String?
    public let issuer: String?
    public let status: CredentialStatus
    public let checks: [Check]
    public let evidence: [EntryID]
    public let checkedAt: Timestamp
    /// In a federation: the issuer's trust answer as JSON (set by the node that verified), so
    /// every form of the result carries it.
    public var trust: JSON?

    public var verified: Bool { checks.allSatisfy(\.ok) }
    public var errors: [String] { checks.filter { !$0.ok }.map { "\($0.name): \($0.detail)" } }

    /// The report's JSON members; a node adds the evidence entries and freshness
    /// (`NodeVerification`), so that `vellum verify --json` and `POST /v1/verify` carry them.
    public var jsonMembers: [String: JSON] {
        var members: [String: JSON] = [
            "verified": .bool(verified),
            "id": credentialID.map(JSON.string) ?? .null,
            "issuer": issuer.map(JSON.string) ?? .null,
            "status": .string(status.rawValue),
            "at": .string(checkedAt.rfc3339),
            "checks": .array(checks.map { ["check": .string($0.name), "ok": .bool($0.ok), "detail": .string($0.detail)] }),
            "errors": .array(errors.map(JSON.string)),
        ]
        if let trust { members["trust"] = trust }
        return members
    }
}

/// Verifies a presented credential: structure, proof, issuer binding, validity period, the
/// ledger's record of it (and its digest), and its merged status at `time`.
public enum CredentialVerifier {
    /// The issuer a credential names: `issuer` as a string, or its `id` when it is a profile.
    public static func issuer(of credential: JSON) -> String? {
        credential["issuer"]?.stringValue ?? credential["issuer"]?["id"]?.stringValue
    }

    /// `trust`: in a federation, whether the issuer is recognised (and why not): a credential
    /// whose issuer is not trusted is not verified.
    public static func verify(
        _ credential: JSON, record: LedgerRecord?, at time: Timestamp, trust: (trusted: Bool, detail: String)? = nil
    ) -> VerificationReport {
        var checks: [VerificationReport.Check] = []
        func check(_ name: String, _ ok: Bool, _ detail: String) { checks.append(.init(name: name, ok: ok, detail: detail)) }

        let problems = OpenBadgeValidator.problems(in: credential)
        check("structure", problems.isEmpty, problems.isEmpty ? "well-formed OpenBadgeCredential (VC 2.0)" : problems.joined(separator: "; "))

        let issuer = issuer(of: credential)
        var signer: DIDKey?
        do {
            let proof = try DataIntegrity.verify(credential)
            signer = proof.signer
            check("proof", true, "\(DataIntegrity.cryptosuite) signature by \(proof.verificationMethod)")
        } catch {
            check("proof", false, error.message)
        }
        if let signer {
            check("issuer", signer.did == issuer, signer.did == issuer ? "signed by the issuer \(signer.did)" : "signed by \(signer.did), but the issuer is \(issuer.map(VellumError.abbreviated) ?? "missing")")
        } else {
            check("issuer", false, "no valid proof binds the issuer \(issuer.map(VellumError.abbreviated) ?? "(missing)")")
        }

        let from = (credential["validFrom"] ?? credential["issuanceDate"])?.stringValue.flatMap { Timestamp(parsing: $0) }
        let until = (credential["validUntil"] ?? credential["expirationDate"])?.stringValue.flatMap { Timestamp(parsing: $0) }
        if let from, from > time {
            check("validity", false, "not valid before \(from.rfc3339)")
        } else if let until, until < time {
            check("validity", false, "expired at \(until.rfc3339)")
        } else {
            check("validity", true, until.map { "valid until \($0.rfc3339)" } ?? "valid from \(from?.rfc3339 ?? "-"), no end date")
        }

        let id = credential["id"]?.stringValue
        var status = CredentialStatus.unknown
        var evidence: [EntryID] = []
        if let record {
            let digest = OpenBadges.digest(credential)
            if digest != record.payload.digest {
                check("ledger", false, "the ledger records digest \(record.payload.digest), this document hashes to \(digest)")
            } else if record.payload.issuer != issuer {
                check("ledger", false, "the ledger records issuer \(record.payload.issuer)")
            } else {
                check("ledger", true, "issue entry \(record.resolution.issue?.entry.hex ?? "-") records this exact document")
            }
            status = record.resolution.status(at: time)
            evidence = record.resolution.evidence
        } else {
            check("ledger", false, "no issue entry for \(id.map(VellumError.abbreviated) ?? "this credential") in the ledger")
        }
        check("status", status == .active, status == .active ? "active" : "status is \(status.rawValue)")
        if let trust { check("trust", trust.trusted, trust.detail) }
        return VerificationReport(credentialID: id, issuer: issuer, status: status, checks: checks, evidence: evidence, checkedAt: time)
    }
}
