import Foundation
import Hummingbird
import Metrics

/// Wraps every route: turns any thrown error into the JSON error body (so a framework 404 or
/// 413 looks like ours, and nothing escapes as a bare 500), answers a known path asked with
/// another method 405 with an `Allow` header (the router alone says 404, as if the path did not
/// exist), and records each request's latency by route, method and status in
/// `vellum_http_request_duration_seconds`.
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Every route's method and path template (`{name}` matches one segment).
    let routes: [(method: String, path: String)]
    let timers = RequestTimers()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            var apiError = APIError(error)
            if let routerError = error as? HTTPError, routerError.status == .notFound {
                let allow = allowedMethods(request.uri.path)
                if !allow.isEmpty, !allow.contains(request.method) {
                    apiError = .methodNotAllowed(request.method, path: request.uri.path, allow: allow)
                }
            }
            if apiError.status == .internalServerError { context.logger.error("\(request.method) \(request.uri.path): \(error)") }
            response = apiError.response
        }
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        timers.timer(route: route, method: request.method.rawValue, status: response.status.code).recordNanoseconds(nanoseconds)
        return response
    }
}

extension APIMiddleware {
    /// The methods the routes answer at `path`, in the order they are declared.
    func allowedMethods(_ path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var methods: [HTTPRequest.Method] = []
        for route in routes {
            let template = route.path.split(separator: "/", omittingEmptySubsequences: false)
            guard template.count == segments.count,
                zip(template, segments).allSatisfy({ $0.hasPrefix("{") || $0 == $1 }),
                let method = HTTPRequest.Method(route.method), !methods.contains(method)
            else { continue }
            methods.append(method)
        }
        return methods
    }
}

/// The latency timers by route, method and status, each made once: the metrics factory
/// builds and looks up a timer's labels under its lock, which made per request cost a status
/// answer about 2% of its CPU.
final class RequestTimers: @unchecked Sendable {  // `made` is guarded by `lock`
    private struct Labels: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    private let lock = NSLock()
    private var made: [Labels: Timer] = [:]

    func timer(route: String, method: String, status: Int) -> Timer {
        let labels = Labels(route: route, method: method, status: status)
        if let timer = lock.withLock({ made[labels] }) { return timer }
        let timer = Timer(
            label: "vellum_http_request_duration_seconds", dimensions: [("route", route), ("method", method), ("status", String(status))])
        lock.withLock { if made.count < 1_000 { made[labels] = timer } }  // methods are the client's: keep a bound
        return timer
    }
}
