import Foundation
import Hummingbird
import Metrics
import Prometheus
import VellumCore
import VellumNode

/// The HTTP API of a node (Docs/HTTP.md, and `GET /openapi.yaml`): read-only. Status answers
/// carry the issuer-signed entries that decided them; status lists are the issuer's own
/// signed bytes; verification runs against this node's replica of the ledger.
public struct VellumAPI: Sendable {
    /// Largest request body accepted (a credential or presentation): beyond it, 413.
    public static let maxBody = 1 << 20

    struct Endpoint: Sendable {
        let method: HTTPRequest.Method
        /// In OpenAPI form, `{name}` for a parameter; Hummingbird reads the same syntax.
        let path: String
        let handle: @Sendable (Request, BasicRequestContext) async throws -> Response
    }

    let nodes: NodePool
    let statusCache = StatusCache()
    let registry: PrometheusCollectorRegistry

    /// - Parameters:
    ///   - dataPath: the node's data directory.
    ///   - registry: where `/metrics` reads from; the process must have bootstrapped
    ///     `MetricsSystem` with a `PrometheusMetricsFactory` on the same registry.
    public init(dataPath: String, registry: PrometheusCollectorRegistry) throws {
        nodes = try NodePool(path: dataPath)
        self.registry = registry
    }

    /// Every route, in the order the OpenAPI document lists them.
    var endpoints: [Endpoint] {
        [
            Endpoint(method: .get, path: "/", handle: { _, _ in .bytes(Array(VerifierPage.html.utf8), contentType: "text/html; charset=utf-8") }),
            Endpoint(method: .get, path: "/healthz", handle: { _, _ in try health() }),
            Endpoint(method: .get, path: "/metrics", handle: { _, _ in try metrics() }),
            Endpoint(method: .get, path: "/openapi.yaml", handle: { _, _ in .bytes(Array(OpenAPIDocument.yaml.utf8), contentType: "application/yaml") }),
            Endpoint(method: .get, path: "/v1/credentials/{id}/status", handle: { request, context in try status(request, context) }),
            Endpoint(method: .post, path: "/v1/verify", handle: { request, _ in try await verify(request) }),
            Endpoint(method: .get, path: "/v1/status-lists/{list}", handle: { _, context in try statusList(context) }),
            Endpoint(method: .post, path: "/credentials/verify", handle: { request, _ in try await verifyCredential(request) }),
            Endpoint(method: .post, path: "/presentations/verify", handle: { request, _ in try await verifyPresentation(request) }),
        ]
    }

    /// The `(method, path)` of every route, for checking the OpenAPI document against.
    public var routes: [(method: String, path: String)] { endpoints.map { ($0.method.rawValue, $0.path) } }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: APIMiddleware())
        for endpoint in endpoints {
            router.on(RouterPath(endpoint.path), method: endpoint.method) { request, context in
                try await endpoint.handle(request, context)
            }
        }
        return router
    }

    // MARK: handlers

    func health() throws -> Response {
        let (did, entries, feeds) = try nodes.with { node in (node.did.did, try node.store.entryCount(), try node.store.count("feeds")) }
        return .json(["status": "ok", "issuer": .string(did), "entries": .number(Double(entries)), "feeds": .number(Double(feeds))])
    }

    func status(_ request: Request, _ context: BasicRequestContext) throws -> Response {
        let id = try parameter("id", context)
        guard CredentialID.isValid(id) else {
            throw APIError.badRequest("'\(id.prefix(100))' is not a credential id (urn:uuid:..., printable ASCII, at most \(CredentialID.maximumLength) bytes)")
        }
        let at = try request.uri.queryParameters["at"].map { text throws(VellumError) in try Timestamp(query: String(text), option: "at") }
        let issuer = request.uri.queryParameters["issuer"].map(String.init)
        let answer: [UInt8]? = try nodes.with { node in
            guard let at else { return try statusCache.answer(id, issuer: issuer, node: node) }
            let report = try node.status(of: id, issuer: issuer, at: at)
            return report.status == .unknown ? nil : report.canonicalBytes
        }
        guard let answer else { throw APIError.notFound("unknown credential \(id)" + (at.map { " as of \($0.rfc3339)" } ?? "")) }
        return .bytes(answer, contentType: "application/json")
    }

    func verify(_ request: Request) async throws -> Response {
        let credential = try await body(request)
        return .json(try nodes.with { try $0.verify(credential).json })
    }

    func statusList(_ context: BasicRequestContext) throws -> Response {
        let name = try parameter("list", context)
        let list: [UInt8]?
        do { list = try nodes.with { try $0.publishedStatusList(named: name) } } catch let error as VellumError where error.code == .invalidInput {
            throw APIError.badRequest(error.message)
        }
        guard let list else { throw APIError.notFound("no status list \(name) has been published to this node") }
        // The issuer's signed bytes, exactly as they travel in the ledger.
        return .bytes(list, contentType: "application/vc+ld+json")
    }

    /// VC-API `POST /credentials/verify`: `{"verifiableCredential": ..., "options": ...}`.
    func verifyCredential(_ request: Request) async throws -> Response {
        let body = try await body(request, vcAPI: true)
        guard let credential = body["verifiableCredential"], credential.objectValue != nil else {
            throw Self.parsingFailure("the body has no 'verifiableCredential' object")
        }
        let report = try nodes.with { try $0.verify(credential).report }
        return .json(VerificationResult.json(report))
    }

    /// VC-API `POST /presentations/verify`: `{"verifiablePresentation": ..., "options": {"challenge", "domain"}}`.
    func verifyPresentation(_ request: Request) async throws -> Response {
        let body = try await body(request, vcAPI: true)
        guard let presentation = body["verifiablePresentation"], presentation.objectValue != nil else {
            throw Self.parsingFailure("the body has no 'verifiablePresentation' object")
        }
        let options = body["options"]
        let result = try nodes.with { node in
            try PresentationVerifier.verify(
                presentation, challenge: options?["challenge"]?.stringValue, domain: options?["domain"]?.stringValue
            ) { credential in try node.verify(credential).report }
        }
        return .json(result)
    }

    func metrics() throws -> Response {
        let (entries, feeds, credentials, peers) = try nodes.with { node in
            (try node.store.entryCount(), try node.store.count("feeds"), try node.store.count("credentials"), try node.store.count("peers"))
        }
        Gauge(label: "vellum_entries").record(entries)
        Gauge(label: "vellum_feeds").record(feeds)
        Gauge(label: "vellum_credentials").record(credentials)
        Gauge(label: "vellum_peers").record(peers)
        return .bytes(registry.emitToBuffer(), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    // MARK: request parsing

    static let jsonTypes = ["application/json", "application/ld+json", "application/vc", "application/vp"]

    /// The request body as JSON: 415 unless it is declared JSON, 413 beyond `maxBody`, 400
    /// (with a PARSING_ERROR problem for the VC-API routes) when it does not parse.
    func body(_ request: Request, vcAPI: Bool = false) async throws -> JSON {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard Self.jsonTypes.contains(where: { type.hasPrefix($0) }) else {
            throw APIError(
                status: .unsupportedMediaType, code: "unsupported_media_type",
                message: "send the body as Content-Type: application/json (got '\(type.isEmpty ? "none" : type)')")
        }
        let buffer = try await request.body.collect(upTo: Self.maxBody)
        do { return try JSON(parsing: Array(buffer.readableBytesView)) } catch {
            throw vcAPI ? Self.parsingFailure("the body is not JSON: \(error)") : APIError.badRequest("the body is not JSON: \(error)", code: "invalid_json")
        }
    }

    static func parsingFailure(_ detail: String) -> APIError {
        APIError(status: .badRequest, code: "PARSING_ERROR", message: detail, extra: VerificationResult.parsingFailure(detail))
    }

    func parameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        guard let raw = context.parameters.get(name) else { throw APIError.badRequest("missing \(name)") }
        return raw.contains("%") ? raw.removingPercentEncoding ?? raw : raw
    }
}
