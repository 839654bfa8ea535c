import VellumCore

/// "Who issued this, and is that issuer recognised?", as any replica answers it offline: the
/// path from the federation's genesis through the organization's admission to the campus
/// delegation, with the signed entries that prove each step.
public struct TrustAnswer: Sendable {
    public let issuer: String
    public let trusted: Bool
    public let organization: (id: String, name: String)?
    public let federation: (id: String, name: String)
    public let reason: String?
    public let evidence: [Entry]
    /// `json.canonicalBytes`, written once with it (keys in JCS order, entries with their stored
    /// payload bytes): it goes into every status answer of a federation node, and
    /// `RegistryCache` keeps the answer for each issuer and authority.
    let canonicalJSON: [UInt8]

    init(
        issuer: String, trusted: Bool, organization: (id: String, name: String)?, federation: (id: String, name: String), reason: String?,
        evidence: [Entry]
    ) {
        self.issuer = issuer
        self.trusted = trusted
        self.organization = organization
        self.federation = federation
        self.reason = reason
        self.evidence = evidence
        canonicalJSON = Self.canonicalJSON(
            issuer: issuer, trusted: trusted, organization: organization, federation: federation, reason: reason, evidence: evidence)
    }

    public var json: JSON {
        var o: [String: JSON] = [
            "issuer": .string(issuer),
            "trusted": .bool(trusted),
            "organization": organization.map { ["id": .string($0.id), "name": .string($0.name)] } ?? .null,
            "federation": ["id": .string(federation.id), "name": .string(federation.name)],
            "evidence": .array(evidence.map(\.json)),
        ]
        if let reason { o["reason"] = .string(reason) }
        return .object(o)
    }

    private static func canonicalJSON(
        issuer: String, trusted: Bool, organization: (id: String, name: String)?, federation: (id: String, name: String), reason: String?,
        evidence: [Entry]
    ) -> [UInt8] {
        var out: [UInt8] = []
        func field(_ name: String, _ first: Bool = false) {
            out.append(UInt8(ascii: first ? "{" : ","))
            JSON.writeString(name, into: &out)
            out.append(UInt8(ascii: ":"))
        }
        func pair(_ p: (id: String, name: String)) {
            field("id", true); JSON.writeString(p.id, into: &out)
            field("name"); JSON.writeString(p.name, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        field("evidence", true)
        out.append(contentsOf: Entry.canonicalJSONArray(evidence))
        field("federation"); pair(federation)
        field("issuer"); JSON.writeString(issuer, into: &out)
        field("organization")
        if let organization { pair(organization) } else { out.append(contentsOf: "null".utf8) }
        if let reason { field("reason"); JSON.writeString(reason, into: &out) }
        field("trusted"); out.append(contentsOf: (trusted ? "true" : "false").utf8)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
