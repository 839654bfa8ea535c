import Hummingbird
import Metrics

/// Wraps every route: turns any thrown error into the JSON error body (so a framework 404 or
/// 413 looks like ours, and nothing escapes as a bare 500), and records each request's latency
/// by route, method and status in `vellum_http_request_duration_seconds`.
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let apiError = APIError(error)
            if apiError.status == .internalServerError { context.logger.error("\(request.method) \(request.uri.path): \(error)") }
            response = Response.json(apiError.json, status: apiError.status)
        }
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        Timer(
            label: "vellum_http_request_duration_seconds",
            dimensions: [("route", route), ("method", request.method.rawValue), ("status", String(response.status.code))]
        ).recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        return response
    }
}
