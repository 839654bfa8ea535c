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
}
