@preconcurrency import Crypto
import VellumCore

/// Turns a registrar's CSV into credential requests. The header names the columns with the
/// `vellum issue` flag names; every row is checked before anything is issued.
public enum BulkIssuance {
    public static let columns = ["subject", "achievement", "achievement-type", "description", "criteria", "valid-until"]

    /// A request with the line it came from.
    public struct Row: Sendable {
        public let line: Int
        public let request: CredentialRequest
    }

    /// Parses and validates the whole file; the first bad row throws an error naming `file:line`.
    /// Rows on the lines of `issued` (an earlier run issued them) are parsed but not checked
    /// against `now` again: a row valid until yesterday was valid when it was issued.
    public static func rows(csv text: String, file: String, now: Timestamp, issued: Set<Int> = []) throws(VellumError) -> [Row] {
        let records: [CSV.Record]
        do { records = try CSV.parse(text) } catch {
            throw VellumError(.invalidInput, "\(file):\(error.line): \(error.message)")
        }
        guard let header = records.first else { throw VellumError(.invalidInput, "\(file): empty file (expected a header line)") }
        let names = header.fields.map { $0.trimmingWhitespace }
        if let unknown = names.first(where: { !columns.contains($0) }) {
            throw VellumError(.invalidInput, "\(file):\(header.line): unknown column '\(unknown)' (columns: \(columns.joined(separator: ", ")))")
        }
        if let duplicate = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw VellumError(.invalidInput, "\(file):\(header.line): column '\(duplicate)' appears twice")
        }
        for required in ["subject", "achievement"] where !names.contains(required) {
            throw VellumError(.invalidInput, "\(file):\(header.line): missing column '\(required)'")
        }
        guard records.count > 1 else { throw VellumError(.invalidInput, "\(file): no rows after the header") }
        var rows: [Row] = []
        rows.reserveCapacity(records.count - 1)
        for record in records.dropFirst() {
            guard record.fields.count == names.count else {
                throw VellumError(.invalidInput, "\(file):\(record.line): \(record.fields.count) fields, the header has \(names.count)")
            }
            var value: [String: String] = [:]
            for (name, field) in zip(names, record.fields) {
                let v = field.trimmingWhitespace
                if !v.isEmpty { value[name] = v }
            }
            do throws(VellumError) {
                var validUntil: Timestamp?
                if let text = value["valid-until"] { validUntil = try parseValidUntil(text) }
                let request = CredentialRequest(
                    subject: value["subject"] ?? "", achievementName: value["achievement"] ?? "",
                    achievementType: value["achievement-type"] ?? "MicroCredential", description: value["description"],
                    criteria: value["criteria"], validUntil: validUntil)
                if !issued.contains(record.line) { _ = try request.validated(validFrom: now) }
                rows.append(Row(line: record.line, request: request))
            } catch {
                throw VellumError(.invalidInput, "\(file):\(record.line): \(error.message)")
            }
        }
        return rows
    }

    /// What names a bulk file in the ledger's record of issued rows: the SHA-256 of its bytes.
    public static func digest(_ file: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: file)) }

    /// An RFC 3339 date-time, or a date (`2027-06-30`), meaning the end of that day in UTC.
    public static func parseValidUntil(_ text: String) throws(VellumError) -> Timestamp {
        if let t = Timestamp(parsing: text) { return t }
        if let day = Timestamp(parsing: text, allowDateOnly: true) {
            return Timestamp(millisecondsSinceEpoch: day.millisecondsSinceEpoch + 86_399_000)
        }
        throw VellumError(.invalidInput, "valid-until '\(text)' is not an ISO 8601 date (2027-06-30) or date-time (2027-06-30T12:00:00Z)")
    }
}
