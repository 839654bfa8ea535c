import Foundation
import Hummingbird
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import VellumCore
import VellumNode

/// The HTTP API of a node (Docs/HTTP.md, and `GET /openapi.yaml`): read-only. Status answers
/// carry the issuer-signed entries that decided them; status lists are the issuer's own
/// signed bytes; verification runs against this node's replica of the ledger.
public struct VellumAPI: Sendable {
    /// Largest request body accepted (a credential or presentation): beyond it, 413.
    public static let maxBody = 1 << 20
    /// Most credentials verified from one presentation: beyond it, 413. Each costs a signature
    /// check and a ledger read, so a megabyte of small credentials would hold a handler thread
    /// for seconds; a stack of microcredentials is far smaller.
    public static let maxPresentationCredentials = 100
    /// Most JSON values a body may hold: a presentation of 100 credentials has under 10,000;
    /// a megabyte of `[1,1,1,...]` would have 500,000, each costing time and memory to build.
    public static let maxBodyValues = 25_000

    struct Endpoint: Sendable {
        let method: HTTPRequest.Method
        /// In OpenAPI form, `{name}` for a parameter; Hummingbird reads the same syntax.
        let path: String
        let handle: @Sendable (Request, BasicRequestContext) async throws -> Response
    }

    let nodes: NodePool
    let statusCache: StatusCache
    let registry: PrometheusCollectorRegistry
    let threads: HandlerThreads
    /// A request body must arrive whole within this time. The server's idle timer restarts with
    /// every chunk, so without a deadline a client trickling a body byte by byte would hold its
    /// connection for as long as it liked; past it, the answer is a 408 and the connection closes.
    let bodyDeadline: Duration

    /// - Parameters:
    ///   - dataPath: the node's data directory.
    ///   - registry: where `/metrics` reads from; the process must have bootstrapped
    ///     `MetricsSystem` with a `PrometheusMetricsFactory` on the same registry.
    ///   - handlerThreads: how many requests verify or read the store at once (default: the
    ///     cores, at least 2 and at most 4); more wait their turn.
    public init(
        dataPath: String, registry: PrometheusCollectorRegistry, handlerThreads: Int? = nil,
        bodyDeadline: Duration = HTTPServerLimits.defaultIdleTimeout
    ) throws {
        self.bodyDeadline = bodyDeadline
        let handlerThreads = handlerThreads ?? HandlerThreads.defaultCount
        nodes = try NodePool(path: dataPath, capacity: handlerThreads)
        statusCache = try StatusCache(path: dataPath)
        self.registry = registry
        threads = HandlerThreads(count: handlerThreads)
    }

    /// Every route, in the order the OpenAPI document lists them.
    var endpoints: [Endpoint] {
        [
            Endpoint(method: .get, path: "/", handle: { _, _ in .bytes(Array(VerifierPage.html.utf8), contentType: "text/html; charset=utf-8") }),
            Endpoint(method: .get, path: "/healthz", handle: { _, _ in try await health() }),
            Endpoint(method: .get, path: "/metrics", handle: { _, _ in try await metrics() }),
            Endpoint(method: .get, path: "/openapi.yaml", handle: { _, _ in .bytes(Array(OpenAPIDocument.yaml.utf8), contentType: "application/yaml") }),
            Endpoint(method: .get, path: "/v1/credentials/{id}/status", handle: { request, context in try await status(request, context) }),
            Endpoint(method: .post, path: "/v1/verify", handle: { request, _ in try await verify(request) }),
            Endpoint(method: .get, path: "/v1/status-lists/{list}", handle: { _, context in try await statusList(context) }),
            Endpoint(method: .post, path: "/credentials/verify", handle: { request, _ in try await verifyCredential(request) }),
            Endpoint(method: .post, path: "/presentations/verify", handle: { request, _ in try await verifyPresentation(request) }),
            Endpoint(method: .get, path: "/v1/issuers/{did}", handle: { _, context in try await issuer(context) }),
            Endpoint(method: .post, path: "/authorization", handle: { request, _ in try await authorization(request) }),
            Endpoint(method: .post, path: "/recognition", handle: { request, _ in try await recognition(request) }),
        ]
    }

    /// The `(method, path)` of every route, for checking the OpenAPI document against.
    public var routes: [(method: String, path: String)] { endpoints.map { ($0.method.rawValue, $0.path) } }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: APIMiddleware(routes: routes))
        for endpoint in endpoints {
            router.on(RouterPath(endpoint.path), method: endpoint.method) { request, context in
                try await endpoint.handle(request, context)
            }
        }
        return router
    }

    // MARK: handlers

    func health() async throws -> Response {
        let (did, entries, feeds) = try await threads.run { [nodes] in
            try nodes.with { node in (node.did.did, try node.store.entryCount(), try node.store.count("feeds")) }
        }
        return .json(["status": "ok", "issuer": .string(did), "entries": .number(Double(entries)), "feeds": .number(Double(feeds))])
    }

    func status(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let id = try parameter("id", context)
        guard CredentialID.isValid(id) else {
            throw APIError.badRequest("'\(id.prefix(100))' is not a credential id (urn:uuid:..., printable ASCII, at most \(CredentialID.maximumLength) bytes)")
        }
        let query = request.uri.queryParameters  // `queryParameters` parses the query string on every access
        let at = try query["at"].map { text throws(VellumError) in try Timestamp(query: String(text), option: "at") }
        let issuer = query["issuer"].map(String.init)
        if at == nil, let kept = statusCache.keptAnswer(id, issuer: issuer) { return .bytes(kept, contentType: "application/json") }
        let answer: [UInt8]? = try await threads.run { [nodes, statusCache] in
            try nodes.with { node in
                guard let at else { return try statusCache.answer(id, issuer: issuer, node: node) }
                let report = try node.status(of: id, issuer: issuer, at: at)
                return report.status == .unknown ? nil : report.canonicalBytes
            }
        }
        guard let answer else { throw APIError.notFound("unknown credential \(id)" + (at.map { " as of \($0.rfc3339)" } ?? "")) }
        return .bytes(answer, contentType: "application/json")
    }

    func verify(_ request: Request) async throws -> Response {
        let bytes = try await body(request)
        return .json(try await threads.run { [nodes] in
            let credential = try Self.parse(bytes)
            return try nodes.with { try $0.verify(credential).json }
        })
    }

    func statusList(_ context: BasicRequestContext) async throws -> Response {
        let name = try parameter("list", context)
        let list: [UInt8]?
        do { list = try await threads.run { [nodes] in try nodes.with { try $0.publishedStatusList(named: name) } } } catch let error as VellumError
            where error.code == .invalidInput
        {
            throw APIError.badRequest(error.message)
        }
        guard let list else { throw APIError.notFound("no status list \(name) has been published to this node") }
        // The issuer's signed bytes, exactly as they travel in the ledger.
        return .bytes(list, contentType: "application/vc+ld+json")
    }

    /// VC-API `POST /credentials/verify`: `{"verifiableCredential": ..., "options": ...}`.
    func verifyCredential(_ request: Request) async throws -> Response {
        let bytes = try await body(request)
        return .json(try await threads.run { [nodes] in
            let body = try Self.parse(bytes, vcAPI: true)
            guard let credential = body["verifiableCredential"], credential.objectValue != nil else {
                throw Self.parsingFailure("the body has no 'verifiableCredential' object")
            }
            return VerificationResult.json(try nodes.with { try $0.verify(credential).report })
        })
    }

    /// VC-API `POST /presentations/verify`, in both request shapes the specification defines:
    /// `{"verifiablePresentation": ..., "options": {"challenge", "domain"}}`, and its
    /// `ProoflessVerifyPresentationRequest`, `{"presentation": ..., "options": ...}`. Both go
    /// through the same checks: a proof, when there is one, is verified whatever the member's name.
    func verifyPresentation(_ request: Request) async throws -> Response {
        let bytes = try await body(request)
        return .json(try await threads.run { [nodes] in
            let body = try Self.parse(bytes, vcAPI: true)
            let presentation: JSON
            switch (body["verifiablePresentation"], body["presentation"]) {
            case (let vp?, nil) where vp.objectValue != nil: presentation = vp
            case (nil, let p?) where p.objectValue != nil: presentation = p
            case (_?, _?): throw Self.parsingFailure("the body has both 'verifiablePresentation' and 'presentation'; send one")
            default: throw Self.parsingFailure("the body has no 'verifiablePresentation' (or proofless 'presentation') object")
            }
            if let count = presentation["verifiableCredential"]?.arrayValue?.count, count > Self.maxPresentationCredentials {
                throw APIError(
                    status: .contentTooLarge, code: "too_large",
                    message: "the presentation carries \(count) credentials; a node verifies at most \(Self.maxPresentationCredentials) in one request")
            }
            let options = body["options"]
            return try nodes.with { node in
                try PresentationVerifier.verify(
                    presentation, challenge: options?["challenge"]?.stringValue, domain: options?["domain"]?.stringValue
                ) { credential in try node.verify(credential).report }
            }
        })
    }

    func metrics() async throws -> Response {
        let (entries, feeds, credentials, peers) = try await threads.run { [nodes] in
            try nodes.with { node in
                (try node.store.entryCount(), try node.store.count("feeds"), try node.store.count("credentials"), try node.store.count("peers"))
            }
        }
        Gauge(label: "vellum_entries").record(entries)
        Gauge(label: "vellum_feeds").record(feeds)
        Gauge(label: "vellum_credentials").record(credentials)
        Gauge(label: "vellum_peers").record(peers)
        return .bytes(registry.emitToBuffer(), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    // MARK: request parsing

    static let jsonTypes = ["application/json", "application/ld+json", "application/vc", "application/vp"]

    /// The request body's bytes: 415 unless it is declared JSON, 413 beyond `maxBody`.
    func body(_ request: Request) async throws -> [UInt8] {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard Self.jsonTypes.contains(where: { type.hasPrefix($0) }) else {
            throw APIError(
                status: .unsupportedMediaType, code: "unsupported_media_type",
                message: "send the body as Content-Type: application/json (got '\(type.isEmpty ? "none" : type)')")
        }
        let deadline = bodyDeadline
        let buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await request.body.collect(upTo: Self.maxBody) }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else {
                throw APIError(status: .requestTimeout, code: "timeout", message: "the body did not arrive within \(deadline)", close: true)
            }
            return buffer
        }
        return Array(buffer.readableBytesView)
    }

    /// A body as JSON: 400 (with a PARSING_ERROR problem for the VC-API routes) when it does
    /// not parse. Parsing is linear, nests at most `JSON.maximumDepth` deep and builds at most
    /// `maxBodyValues` values.
    static func parse(_ bytes: [UInt8], vcAPI: Bool = false) throws -> JSON {
        do { return try JSON(parsing: bytes, maximumValues: maxBodyValues) } catch {
            throw vcAPI ? Self.parsingFailure("the body is not JSON: \(error)") : APIError.badRequest("the body is not JSON: \(error)", code: "invalid_json")
        }
    }

    static func parsingFailure(_ detail: String) -> APIError {
        APIError(status: .badRequest, code: "PARSING_ERROR", message: detail, extra: VerificationResult.parsingFailure(detail))
    }

    func parameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        guard let raw = context.parameters.get(name) else { throw APIError.badRequest("missing \(name)") }
        return raw.utf8.contains(UInt8(ascii: "%")) ? raw.removingPercentEncoding ?? raw : raw
    }
}

/// The threads that run handler bodies. Verification (a megabyte of JSON to parse, hash and
/// check) and SQLite reads block: on NIO's event loops they would stall every connection of
/// the loop, and on Swift's cooperative pool (one thread a core) every other task of the
/// process, gossip included. A few dedicated threads bound that work; requests beyond them
/// wait their turn, and hold no more than one SQLite connection each (`NodePool`). Visible to
/// the package for `Scripts/bench`, which measures what the hop to them costs.
package final class HandlerThreads: Sendable {
    private let pool: NIOThreadPool
    /// The cores, at least 2 and at most 4.
    package static let defaultCount = min(4, max(2, System.coreCount))

    package init(count: Int = defaultCount) {
        pool = NIOThreadPool(numberOfThreads: count)
        pool.start()
    }

    /// The pool's threads hold it until it is shut down: the API's last copy does that.
    deinit { pool.shutdownGracefully { _ in } }

    package func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }
}
