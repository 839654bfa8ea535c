import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import VellumCore

/// `--node URL`: ask a running node over HTTP instead of the local data directory.
struct RemoteOptions: ParsableArguments {
    @Option(name: .customLong("node"), help: "A running node's HTTP address, http://HOST:PORT (its answer's evidence is checked).")
    var url: String?

    func node() throws(VellumError) -> RemoteNode? { try url.map(RemoteNode.init) }
}

/// A client of a node's HTTP API (Docs/HTTP.md). It returns the node's JSON; the caller checks
/// the evidence in it.
struct RemoteNode {
    let base: String

    init(_ text: String) throws(VellumError) {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw VellumError(.invalidInput, "--node '\(text)' is not an http(s)://HOST:PORT address")
        }
        base = text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    func status(of id: String, issuer: String?, at: String?) async throws -> JSON {
        var path = "/v1/credentials/\(id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? id)/status"
        let query = [("issuer", issuer), ("at", at)].compactMap { name, value in
            value.map { "\(name)=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) }
        }
        if !query.isEmpty { path += "?" + query.joined(separator: "&") }
        return try await send("GET", path, body: nil)
    }

    func verify(_ credential: [UInt8]) async throws -> JSON {
        try await send("POST", "/v1/verify", body: credential)
    }

    private func send(_ method: String, _ path: String, body: [UInt8]?) async throws -> JSON {
        guard let url = URL(string: base + path) else { throw VellumError(.invalidInput, "cannot form a URL from \(base)\(path)") }
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data
        let response: URLResponse
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            throw VellumError(.io, "\(base) did not answer: \(error.localizedDescription)")
        }
        let code = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard let json = try? JSON(parsing: Array(data)) else {
            throw VellumError(.io, "\(base)\(path) answered \(code) without JSON")
        }
        guard code == 200 else {
            throw VellumError(code == 404 ? .notFound : .io, "\(base) answered \(code): \(json["message"]?.stringValue ?? json.canonicalString)")
        }
        return json
    }
}
