/// A problem in the form VC 2.0 and Bitstring Status List report them (RFC 9457 style):
/// `type` is one of the specs' error URLs, so generic verifier tools can act on it.
public struct ProblemDetails: Sendable, Equatable {
    public static let parsing = "https://www.w3.org/TR/vc-data-model#PARSING_ERROR"
    public static let cryptographic = "https://www.w3.org/TR/vc-data-model#CRYPTOGRAPHIC_SECURITY_ERROR"
    public static let malformed = "https://www.w3.org/TR/vc-data-model#MALFORMED_VALUE_ERROR"
    public static let range = "https://www.w3.org/TR/vc-data-model#RANGE_ERROR"
    public static let statusRetrieval = "https://www.w3.org/ns/credentials/status-list#STATUS_RETRIEVAL_ERROR"
    public static let statusVerification = "https://www.w3.org/ns/credentials/status-list#STATUS_VERIFICATION_ERROR"

    public let type: String
    public let title: String
    public let detail: String

    public init(type: String, title: String, detail: String) {
        self.type = type
        self.title = title
        self.detail = detail
    }

    public var json: JSON { ["type": .string(type), "title": .string(title), "detail": .string(detail)] }

    /// The problem a failed check of `CredentialVerifier` stands for.
    public init(failed check: VerificationReport.Check) {
        let (type, title): (String, String) =
            switch check.name {
            case "structure": (Self.malformed, "The credential is not a well-formed OpenBadgeCredential")
            case "proof": (Self.cryptographic, "The proof does not verify")
            case "issuer": (Self.cryptographic, "The proof is not the issuer's")
            case "validity": (Self.range, "The credential is outside its validity period")
            case "ledger" where check.detail.contains("digest"): (Self.cryptographic, "The ledger records a different document")
            case "ledger": (Self.statusRetrieval, "The ledger holds no record of the credential")
            case "trust": (Self.statusVerification, "The issuer is not recognised by the federation")
            default: (Self.statusVerification, "The credential's status is not active")
            }
        self.init(type: type, title: title, detail: check.detail)
    }
}

/// The W3C CCG VC-API verification result for one credential: `verified`, a result per
/// check, and a `problemDetails` entry per failed check.
public enum VerificationResult {
    public static func json(_ report: VerificationReport) -> JSON {
        let problems = report.checks.filter { !$0.ok }.map(ProblemDetails.init(failed:))
        let result: JSON = [
            "verified": .bool(report.verified),
            "credentialId": report.credentialID.map(JSON.string) ?? .null,
            "status": .string(report.status.rawValue),
            "checks": .array(report.checks.filter(\.ok).map { .string($0.name) }),
            "results": .array(report.checks.map { ["check": .string($0.name), "verified": .bool($0.ok), "detail": .string($0.detail)] }),
            "problemDetails": .array(problems.map(\.json)),
            "warnings": [],
            "errors": .array(problems.map(\.json)),
        ]
        return report.trust.map { result.setting("trust", to: $0) } ?? result
    }

    /// The result's members for a request that could not be read at all.
    public static func parsingFailure(_ detail: String) -> [String: JSON] {
        let problem = ProblemDetails(type: ProblemDetails.parsing, title: "The request could not be parsed", detail: detail)
        return ["verified": false, "checks": [], "results": [], "problemDetails": [problem.json], "warnings": [], "errors": [problem.json]]
    }
}

/// Verifies a VerifiablePresentation: every credential it carries (stacked microcredentials
/// are each reported), and the presentation's own proof when it has one: an eddsa-jcs-2022
/// proof for `authentication` by the holder, bound to the verifier's challenge and domain.
public enum PresentationVerifier {
    public static func verify(
        _ presentation: JSON, challenge: String?, domain: String?, verify credential: (JSON) throws -> VerificationReport
    ) rethrows -> JSON {
        var problems: [ProblemDetails] = []
        var results: [JSON] = []
        func check(_ name: String, _ ok: Bool, _ detail: String, _ type: String) {
            results.append(["check": .string(name), "verified": .bool(ok), "detail": .string(detail)])
            if !ok { problems.append(ProblemDetails(type: type, title: "The presentation's \(name) check failed", detail: detail)) }
        }
        let types = presentation["type"]?.arrayValue ?? (presentation["type"].map { [$0] } ?? [])
        check("structure", types.contains(.string("VerifiablePresentation")), "type includes VerifiablePresentation", ProblemDetails.malformed)

        let holder = presentation["holder"]?.stringValue ?? presentation["holder"]?["id"]?.stringValue
        if presentation["proof"] != nil {
            do {
                let proof = try DataIntegrity.verify(presentation)
                let p = presentation["proof"]?.arrayValue?.first ?? presentation["proof"]!
                check("proof", true, "\(DataIntegrity.cryptosuite) signature by \(proof.verificationMethod)", ProblemDetails.cryptographic)
                check("purpose", proof.proofPurpose == "authentication", "proofPurpose is '\(proof.proofPurpose)'; a presentation proves 'authentication'", ProblemDetails.cryptographic)
                check("holder", holder == nil || holder == proof.signer.did,
                      holder.map { $0 == proof.signer.did ? "signed by the holder \($0)" : "signed by \(proof.signer.did), but the holder is \($0)" } ?? "no holder named",
                      ProblemDetails.cryptographic)
                if let challenge {
                    check("challenge", p["challenge"]?.stringValue == challenge, "proof challenge must be '\(challenge)'", ProblemDetails.cryptographic)
                }
                if let domain {
                    check("domain", p["domain"]?.stringValue == domain, "proof domain must be '\(domain)'", ProblemDetails.cryptographic)
                }
            } catch {
                check("proof", false, error.message, ProblemDetails.cryptographic)
            }
        } else if challenge != nil {
            check("proof", false, "a challenge was given, but the presentation has no proof", ProblemDetails.cryptographic)
        }

        let carried = presentation["verifiableCredential"]
        let credentials = carried?.arrayValue ?? (carried.map { [$0] } ?? [])
        check("credentials", !credentials.isEmpty, "\(credentials.count) credential(s)", ProblemDetails.malformed)
        let credentialResults = try credentials.map { VerificationResult.json(try credential($0)) }
        let allCredentials = credentialResults.allSatisfy { $0["verified"] == true }
        let presentationOK = problems.isEmpty
        for r in credentialResults {
            for p in r["problemDetails"]?.arrayValue ?? [] {
                problems.append(ProblemDetails(
                    type: p["type"]?.stringValue ?? ProblemDetails.malformed, title: p["title"]?.stringValue ?? "",
                    detail: "\(r["credentialId"]?.stringValue ?? "credential"): \(p["detail"]?.stringValue ?? "")"))
            }
        }
        return [
            "verified": .bool(presentationOK && allCredentials),
            "presentationResult": ["verified": .bool(presentationOK), "results": .array(results)],
            "credentialResults": .array(credentialResults),
            "problemDetails": .array(problems.map(\.json)),
            "warnings": [],
            "errors": .array(problems.map(\.json)),
        ]
    }
}
