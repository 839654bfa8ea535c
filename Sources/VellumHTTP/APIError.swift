import Hummingbird
import VellumCore

/// Every HTTP error body: `{"code": ..., "message": ...}` with a status that says whose fault
/// it is. Bad input gets a 4xx naming the problem; only a fault of the node itself is a 5xx.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    /// Extra fields (a VC-API request that could not be parsed also gets `problemDetails`).
    var extra: [String: JSON] = [:]
    /// For a 405: the methods the path does answer, sent in the `Allow` header.
    var allow: [HTTPRequest.Method] = []
    /// Ask the server to close the connection after the answer (a request whose body never
    /// arrived whole: the connection is in an unknown state).
    var close = false

    static func badRequest(_ message: String, code: String = "bad_request") -> APIError { APIError(status: .badRequest, code: code, message: message) }
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, code: "not_found", message: message) }
    static func methodNotAllowed(_ method: HTTPRequest.Method, path: String, allow: [HTTPRequest.Method]) -> APIError {
        var error = APIError(
            status: .methodNotAllowed, code: "method_not_allowed",
            message: "\(path) answers \(allow.map(\.rawValue).joined(separator: ", ")), not \(method.rawValue)")
        error.allow = allow
        return error
    }

    var json: JSON {
        var o = extra
        o["code"] = .string(code)
        o["message"] = .string(message)
        return .object(o)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response { response }

    var response: Response {
        var response = Response.json(json, status: status)
        if !allow.isEmpty { response.headers[.allow] = allow.map(\.rawValue).joined(separator: ", ") }
        if close { response.headers[.connection] = "close" }
        return response
    }

    /// The API error for anything a handler or the framework threw.
    init(_ error: any Error) {
        switch error {
        case let e as APIError:
            self = e
        case let e as VellumError where e.code == .storage || e.code == .io:
            self.init(status: .serviceUnavailable, code: "unavailable", message: e.message)
        case let e as VellumError where e.code == .notFound:
            self = .notFound(e.message)
        case let e as VellumError where e.code == .conflict:
            self.init(status: .conflict, code: "conflict", message: e.message)
        case let e as VellumError:
            self.init(status: .badRequest, code: e.code.rawValue, message: e.message)
        case let e as HTTPError:
            self.init(status: e.status, code: Self.code(for: e.status), message: e.body ?? e.status.reasonPhrase)
        case let e as any HTTPResponseError where e.status == .contentTooLarge:
            self.init(status: e.status, code: Self.code(for: e.status), message: "the body exceeds \(VellumAPI.maxBody) bytes")
        case let e as any HTTPResponseError:
            self.init(status: e.status, code: Self.code(for: e.status), message: e.status.reasonPhrase)
        default:
            self.init(status: .internalServerError, code: "internal", message: "internal error: \(error)")
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "not_found"
        case .contentTooLarge: "too_large"
        case .methodNotAllowed: "method_not_allowed"
        case .requestTimeout: "timeout"
        default: "http_\(status.code)"
        }
    }

    init(status: HTTPResponse.Status, code: String, message: String, extra: [String: JSON] = [:], close: Bool = false) {
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
        self.close = close
    }
}

extension Response {
    static func json(_ json: JSON, status: HTTPResponse.Status = .ok, contentType: String = "application/json") -> Response {
        bytes(json.canonicalBytes, status: status, contentType: contentType)
    }

    static func bytes(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, contentType: String) -> Response {
        Response(
            status: status, headers: [.contentType: contentType, .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
