import VellumCore

/// How current a node's copy of an issuer's feed is: the newest entry it holds (with the
/// issuer's own timestamp) and when it last confirmed it had everything a peer knew of that feed.
public struct Freshness: Sendable {
    public let head: FeedHead
    public let issuerTime: Timestamp
    /// The answer comes from the issuer's own node, whose copy of its feed is always current.
    public let issuersNode: Bool
    public let heardAt: Timestamp?

    public var json: JSON {
        [
            "feed": .string(head.feed.hex), "seq": .number(Double(head.seq)), "head": .string(head.id.hex),
            "issuerTime": .string(issuerTime.rfc3339), "issuersNode": .bool(issuersNode),
            "heardAt": heardAt.map { .string($0.rfc3339) } ?? .null,
        ]
    }

    /// `json.canonicalBytes`, written directly (keys in JCS order).
    public func writeCanonicalJSON(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"feed":""#.utf8)
        head.feed.writeHex(into: &out)
        out.append(contentsOf: #"","head":""#.utf8)
        head.id.writeHex(into: &out)
        out.append(contentsOf: #"","heardAt":"#.utf8)
        if let heardAt { heardAt.writeJSONString(into: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","issuerTime":"#.utf8)
        issuerTime.writeJSONString(into: &out)
        out.append(contentsOf: #","issuersNode":"#.utf8)
        out.append(contentsOf: (issuersNode ? "true" : "false").utf8)
        out.append(contentsOf: #","seq":"#.utf8)
        out.append(contentsOf: String(head.seq).utf8)
        out.append(UInt8(ascii: "}"))
    }
}

/// The answer to "is this credential valid?", with the evidence a verifier can check.
public struct StatusReport: Sendable {
    public let credentialID: String
    public let status: CredentialStatus
    /// The merge result the status was read from (nil when unknown).
    public let resolution: CredentialResolution?
    public let issuer: String?
    public let validUntil: String?
    /// The signed entries that decided the status: the issue, and the change that won, if any.
    public let evidence: [Entry]
    public let asOf: Freshness?
    /// The time the status is for: now, or the `--at` time.
    public let at: Timestamp
    /// In a federation: whether the issuer is recognised, and the path that proves it.
    public var trust: TrustAnswer?

    public init(
        credentialID: String, status: CredentialStatus, resolution: CredentialResolution?, issuer: String?, validUntil: String?,
        evidence: [Entry], asOf: Freshness?, at: Timestamp, trust: TrustAnswer? = nil
    ) {
        self.credentialID = credentialID
        self.status = status
        self.resolution = resolution
        self.issuer = issuer
        self.validUntil = validUntil
        self.evidence = evidence
        self.asOf = asOf
        self.at = at
        self.trust = trust
    }

    /// The answer for a credential this ledger holds no issue of (at the time asked).
    static func unknown(_ key: CredentialKey, at time: Timestamp) -> StatusReport {
        StatusReport(credentialID: key.id, status: .unknown, resolution: nil, issuer: key.feed.did, validUntil: nil, evidence: [], asOf: nil, at: time)
    }

    public var json: JSON {
        let o: JSON = [
            "id": .string(credentialID),
            "status": .string(status.rawValue),
            "issuer": issuer.map(JSON.string) ?? .null,
            "validUntil": validUntil.map(JSON.string) ?? .null,
            "at": .string(at.rfc3339),
            "asOf": asOf?.json ?? .null,
            "evidence": .array(evidence.map(\.json)),
        ]
        return trust.map { o.setting("trust", to: $0.json) } ?? o
    }

    /// The evidence array as canonical JSON.
    public var evidenceJSON: [UInt8] { Entry.canonicalJSONArray(evidence) }

    /// `json.canonicalBytes`, written directly (the hot path of `GET /v1/credentials/{id}/status`):
    /// entries go in with their stored payload bytes, nothing is parsed. A test keeps the two equal.
    public var canonicalBytes: [UInt8] {
        StatusReport.canonicalBytes(
            asOf: asOf, at: at, evidenceJSON: evidenceJSON, id: credentialID, issuer: issuer, status: status, validUntil: validUntil,
            trust: trust)
    }

    /// The same bytes from their parts, for an answer whose evidence was serialized before.
    public static func canonicalBytes(
        asOf: Freshness?, at: Timestamp, evidenceJSON: [UInt8], id: String, issuer: String?, status: CredentialStatus, validUntil: String?,
        trust: TrustAnswer? = nil
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(evidenceJSON.count + (trust?.canonicalJSON.count ?? 0) + 1_024)
        func field(_ name: String, _ first: Bool = false) {
            out.append(UInt8(ascii: first ? "{" : ","))
            JSON.writeString(name, into: &out)
            out.append(UInt8(ascii: ":"))
        }
        func string(_ s: String?) {
            if let s { JSON.writeString(s, into: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        // Keys in JCS order.
        field("asOf", true)
        if let asOf { asOf.writeCanonicalJSON(into: &out) } else { out.append(contentsOf: "null".utf8) }
        field("at"); at.writeJSONString(into: &out)
        field("evidence"); out.append(contentsOf: evidenceJSON)
        field("id"); string(id)
        field("issuer"); string(issuer)
        field("status"); string(status.rawValue)
        if let trust {
            field("trust")
            out.append(contentsOf: trust.canonicalJSON)
        }
        field("validUntil"); string(validUntil)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// A verification by this node, with the same evidence and freshness as a status answer.
public struct NodeVerification: Sendable {
    public let report: VerificationReport
    public let evidence: [Entry]
    public let asOf: Freshness?

    public var json: JSON {
        var o = report.jsonMembers
        o["evidence"] = .array(evidence.map(\.json))
        o["asOf"] = asOf?.json ?? .null

        return .object(o)
    }
}
