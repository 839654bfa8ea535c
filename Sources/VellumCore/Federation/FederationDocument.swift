@preconcurrency import Crypto

/// A signed document of the federation, as a registrar's files hold it and as `vellum publish`
/// appends it to a feed (entry kind `document`). Each carries organization events (whole logs:
/// the document is checkable on its own); signatures are those events (`OrgEvent`).
/// - `organization`: an organization's log (`org.json`, and what `org delegate`, `org
///   undelegate` and `org rotate` write);
/// - `genesis`: a federation's name, founders and admission threshold, endorsed by every founder;
/// - `proposal`: admit or remove one organization at a named membership version, endorsed by
///   K members.
public enum FederationDocument: Sendable, Hashable {
    case organization([OrgEvent])
    case genesis(Genesis, events: [OrgEvent])
    case proposal(Proposal, events: [OrgEvent])

    public static let maximumEvents = 1000

    public var events: [OrgEvent] {
        switch self {
        case .organization(let e), .genesis(_, let e), .proposal(_, let e): e
        }
    }

    public var typeName: String {
        switch self {
        case .organization: "vellum-org"
        case .genesis: "vellum-federation-genesis"
        case .proposal: "vellum-federation-proposal"
        }
    }

    public var json: JSON {
        var o: [String: JSON] = ["type": .string(typeName), "events": .array(events.map(\.json))]
        switch self {
        case .organization: break
        case .genesis(let g, _): o["genesis"] = g.json
        case .proposal(let p, _): o["proposal"] = p.json
        }
        return .object(o)
    }

    /// A short name for the entry's `credential` column and for messages.
    public var label: String {
        switch self {
        case .organization(let e): "org:\(e.first?.org ?? "-")"
        case .genesis(let g, _): "genesis:\(g.federationID)"
        case .proposal(let p, _): "proposal:\(p.digest.hex)"
        }
    }

    /// The same document with `events` replacing the events of their organization.
    public func replacingEvents(of org: String, with events: [OrgEvent]) -> FederationDocument {
        let kept = self.events.filter { $0.org != org } + events
        switch self {
        case .organization: return .organization(kept)
        case .genesis(let g, _): return .genesis(g, events: kept)
        case .proposal(let p, _): return .proposal(p, events: kept)
        }
    }

    public init(json: JSON) throws(VellumError) {
        guard let o = json.objectValue, let type = o["type"]?.stringValue else {
            throw VellumError(.invalidInput, "not a Vellum federation document (no 'type')")
        }
        guard let list = o["events"]?.arrayValue else { throw VellumError(.invalidInput, "\(type.prefix(40)) document lacks 'events'") }
        guard list.count <= FederationDocument.maximumEvents else {
            throw VellumError(.invalidInput, "document carries \(list.count) events, more than \(FederationDocument.maximumEvents)")
        }
        var events: [OrgEvent] = []
        for (i, e) in list.enumerated() {
            do { events.append(try OrgEvent(json: e)) } catch { throw VellumError(.invalidInput, "events[\(i)]: \(error.message)") }
        }
        func only(_ fields: Set<String>) throws(VellumError) {
            if let extra = o.keys.sorted().first(where: { !fields.contains($0) }) {
                throw VellumError(.invalidInput, "\(type) document has unknown field '\(extra.prefix(40))'")
            }
        }
        switch type {
        case "vellum-org":
            try only(["type", "events"])
            guard let first = events.first, Set(events.map(\.org)).count == 1 else {
                throw VellumError(.invalidInput, "an organization record holds the events of exactly one organization")
            }
            _ = first
            self = .organization(events)
        case "vellum-federation-genesis":
            try only(["type", "events", "genesis"])
            guard let g = o["genesis"] else { throw VellumError(.invalidInput, "genesis document lacks 'genesis'") }
            self = .genesis(try Genesis(json: g), events: events)
        case "vellum-federation-proposal":
            try only(["type", "events", "proposal"])
            guard let p = o["proposal"] else { throw VellumError(.invalidInput, "proposal document lacks 'proposal'") }
            self = .proposal(try Proposal(json: p), events: events)
        default:
            throw VellumError(.invalidInput, "unknown document type '\(type.prefix(40))' (vellum-org, vellum-federation-genesis or vellum-federation-proposal)")
        }
    }
}

/// What the founders sign: the federation's name, its founding organizations and the number of
/// members whose signatures admit or remove an organization.
public struct Genesis: Sendable, Hashable {
    public let name: String
    public let threshold: Int
    public let founders: [String]

    public init(name: String, threshold: Int, founders: [String]) {
        self.name = name
        self.threshold = threshold
        self.founders = founders
    }

    public var json: JSON { ["name": .string(name), "threshold": .number(Double(threshold)), "founders": .array(founders.map(JSON.string))] }
    public var digest: Bytes32 { Bytes32(Array(SHA256.hash(data: json.canonicalBytes)))! }
    /// The federation's id: `did:vellum:z` + base58btc(digest).
    public var federationID: String { OrgEvent.idPrefix + "z" + Base58.encode(digest.bytes) }

    public init(json: JSON) throws(VellumError) {
        guard let o = json.objectValue else { throw VellumError(.invalidInput, "genesis is not an object") }
        if let extra = o.keys.sorted().first(where: { !["name", "threshold", "founders"].contains($0) }) {
            throw VellumError(.invalidInput, "genesis has unknown field '\(extra.prefix(40))'")
        }
        guard let name = o["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 200 else {
            throw VellumError(.invalidInput, "genesis 'name' is missing or longer than 200 bytes")
        }
        guard let founders = o["founders"]?.arrayValue?.compactMap(\.stringValue), founders.count == o["founders"]?.arrayValue?.count,
            !founders.isEmpty, founders.count <= 100, Set(founders).count == founders.count,
            founders.allSatisfy({ $0.hasPrefix(OrgEvent.idPrefix) })
        else { throw VellumError(.invalidInput, "genesis 'founders' is not a list of 1 to 100 distinct did:vellum ids") }
        guard let k = o["threshold"]?.numberValue, k == k.rounded(), k >= 1, k <= Double(founders.count) else {
            throw VellumError(.invalidInput, "genesis 'threshold' is not a whole number from 1 to the number of founders (\(founders.count))")
        }
        self.init(name: name, threshold: Int(k), founders: founders)
    }
}

/// Admit or remove one organization, against the membership version its signers saw.
public struct Proposal: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable { case admit, remove }

    public let federation: String
    /// The membership version (`MembershipVersion.id`) the proposal applies to.
    public let version: Bytes32
    public let action: Action
    public let org: String

    public init(federation: String, version: Bytes32, action: Action, org: String) {
        self.federation = federation
        self.version = version
        self.action = action
        self.org = org
    }

    public var json: JSON {
        ["federation": .string(federation), "version": .string(version.hex), "action": .string(action.rawValue), "org": .string(org)]
    }

    public var digest: Bytes32 { Bytes32(Array(SHA256.hash(data: json.canonicalBytes)))! }

    public init(json: JSON) throws(VellumError) {
        guard let o = json.objectValue else { throw VellumError(.invalidInput, "proposal is not an object") }
        if let extra = o.keys.sorted().first(where: { !["federation", "version", "action", "org"].contains($0) }) {
            throw VellumError(.invalidInput, "proposal has unknown field '\(extra.prefix(40))'")
        }
        guard let f = o["federation"]?.stringValue, f.hasPrefix(OrgEvent.idPrefix), f.utf8.count <= 80 else {
            throw VellumError(.invalidInput, "proposal 'federation' is not a did:vellum id")
        }
        guard let v = o["version"]?.stringValue.flatMap({ Bytes32(hex: $0) }) else {
            throw VellumError(.invalidInput, "proposal 'version' is not a membership version id (64 hex digits)")
        }
        guard let a = o["action"]?.stringValue.flatMap(Action.init(rawValue:)) else {
            throw VellumError(.invalidInput, "proposal 'action' is not admit or remove")
        }
        guard let org = o["org"]?.stringValue, org.hasPrefix(OrgEvent.idPrefix), org.utf8.count <= 80 else {
            throw VellumError(.invalidInput, "proposal 'org' is not a did:vellum id")
        }
        self.init(federation: f, version: v, action: a, org: org)
    }
}
