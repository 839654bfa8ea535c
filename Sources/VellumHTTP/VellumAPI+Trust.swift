import Hummingbird
import VellumCore
import VellumNode

/// The trust routes: Vellum's own answer with evidence (`GET /v1/issuers/{did}`) and the
/// ToIP Trust Registry Query Protocol v2 (`POST /authorization`, `POST /recognition`), all
/// answered from this node's replica of the federation's documents, offline.
extension VellumAPI {
    /// A replica that has not caught up with any peer for this long answers TRQP queries about
    /// other issuers with "unchecked" rather than "no": a removal or cut it has not seen yet
    /// could be the difference.
    static let staleAfter: Int64 = 10 * 60 * 1000

    func issuer(_ context: BasicRequestContext) async throws -> Response {
        let did = try parameter("did", context)
        return .json(try await threads.run { [nodes] in
            try Self.mapInputErrors { try nodes.with { try $0.trust(did).json } }
        })
    }

    /// TRQP authorization: is `entity_id` (a campus did:key, or an organization) authorized by
    /// `authority_id` (this federation) to `issue` or `revoke`?
    func authorization(_ request: Request) async throws -> Response {
        let bytes = try await body(request)
        return .json(try await threads.run { [nodes] in
            let query = try Self.parse(bytes)
            let (entity, authority, action, resource) = try Self.trqpFields(query, actions: ["issue", "revoke"])
            return try nodes.with { node in
                try Self.trqpAnswer(node, entity: entity, authority: authority, action: action, resource: resource, verdict: "authorized")
            }
        })
    }

    /// TRQP recognition: does `authority_id` (this federation) recognise `entity_id` (an
    /// organization's did:vellum, or a campus did:key) as a current member?
    func recognition(_ request: Request) async throws -> Response {
        let bytes = try await body(request)
        return .json(try await threads.run { [nodes] in
            let query = try Self.parse(bytes)
            let (entity, authority, action, resource) = try Self.trqpFields(query, actions: nil)
            return try nodes.with { node in
                try Self.trqpAnswer(node, entity: entity, authority: authority, action: action, resource: resource, verdict: "recognized")
            }
        })
    }

    static func trqpFields(_ query: JSON, actions: Set<String>?) throws -> (String, String, String, String) {
        func field(_ name: String) throws -> String {
            guard let s = query[name]?.stringValue, !s.isEmpty, s.utf8.count <= 512 else {
                throw APIError.badRequest("the query lacks '\(name)' (a string of at most 512 bytes)")
            }
            return s
        }
        let action = try field("action")
        if let actions, !actions.contains(action) {
            throw APIError.badRequest("action '\(action.prefix(40))' is not one this registry answers (\(actions.sorted().joined(separator: ", ")))")
        }
        return (try field("entity_id"), try field("authority_id"), action, query["resource"]?.stringValue ?? "")
    }

    static func trqpAnswer(
        _ node: LedgerReader, entity: String, authority: String, action: String, resource: String, verdict: String
    ) throws -> JSON {
        let now = node.now()
        var answer: [String: JSON] = [
            "entity_id": .string(entity), "authority_id": .string(authority), "action": .string(action), "resource": .string(resource),
            "time_evaluated": .string(now.rfc3339),
        ]
        func result(_ yes: Bool, _ word: String, _ message: String) -> JSON {
            answer[verdict] = .bool(yes)
            answer["message"] = .string(message)
            answer["ext"] = ["io.vellum": ["answer": .string(word)]]
            return .object(answer)
        }
        guard let registry = try node.registry() else { return result(false, "no", "this node belongs to no federation") }
        guard authority == registry.federationID else {
            return result(false, "no", "this node answers for \(registry.name) (\(registry.federationID)) only")
        }
        let trust = try mapInputErrors { try node.trust(entity) }
        let own = entity == node.did.did
        let lastHeard = try node.store.lastHeard()
        let stale = !own && (lastHeard.map { now.millisecondsSinceEpoch - $0 > staleAfter } ?? true)
        if trust.trusted {
            return result(true, "yes", "\(trust.organization?.name ?? entity) is recognised by \(registry.name)")
        }
        if stale {
            return result(false, "unchecked", "unchecked: this node's copy is stale (last caught up \(lastHeard.map { Timestamp(millisecondsSinceEpoch: $0).rfc3339 } ?? "never")); it says: \(trust.reason ?? "")")
        }
        return result(false, "no", trust.reason ?? "not trusted")
    }

    /// A malformed DID is the client's fault (400); a node outside any federation has no
    /// registry to answer from (404).
    static func mapInputErrors<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as VellumError where error.code == .invalidKey || error.code == .invalidInput {
            throw APIError.badRequest(error.message)
        } catch let error as VellumError where error.code == .notFound {
            throw APIError.notFound(error.message)
        }
    }
}
