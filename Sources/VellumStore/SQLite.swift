import CSQLite

/// A SQLite result code, catchable by value.
public struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let constraint = Code(rawValue: SQLITE_CONSTRAINT)
        public static let busy = Code(rawValue: SQLITE_BUSY)
    }

    public let code: Code
    public let message: String
    public var description: String { message }
    public static func == (a: SQLiteError, b: SQLiteError) -> Bool { a.code == b.code }
}

/// One SQLite connection. It owns its handle and closes it in `deinit`; it is used from one
/// thread at a time (SQLite's serialized mode is not relied on).
public final class SQLiteConnection {
    let handle: OpaquePointer

    /// The oldest SQLite the ledger's statements run on (`RETURNING` came in 3.35).
    public static let minimumVersion: Int32 = 3_035_000

    /// Opens `path`; `readOnly` connections can never write, whatever SQL they are given; a
    /// `create: false` connection opens only a database that exists.
    public init(path: String, readOnly: Bool = false, create: Bool = true) throws(SQLiteError) {
        guard sqlite3_libversion_number() >= Self.minimumVersion else {
            throw SQLiteError(code: .init(rawValue: SQLITE_MISUSE), message: "SQLite \(String(cString: sqlite3_libversion())) is too old: Vellum needs 3.35 or later")
        }
        var db: OpaquePointer?
        let mode = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
        let rc = sqlite3_open_v2(path, &db, mode | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: .init(rawValue: rc), message: "cannot open \(path): \(message)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 0)
        sqlite3_busy_timeout(db, 10_000)
    }

    deinit {
        for statement in prepared.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// The statements that begin and end transactions, each prepared once: compiling them anew
    /// for every transaction (`execute`) cost a status answer about 3% of its CPU.
    private enum Control: String {
        case begin = "BEGIN", beginImmediate = "BEGIN IMMEDIATE", commit = "COMMIT", rollback = "ROLLBACK"
    }

    private var prepared: [Control: OpaquePointer] = [:]

    private func run(_ control: Control) throws(SQLiteError) {
        let statement: OpaquePointer
        if let ready = prepared[control] {
            statement = ready
        } else {
            var stmt: OpaquePointer?
            let rc = sqlite3_prepare_v3(handle, control.rawValue, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
            guard rc == SQLITE_OK, let stmt else { throw error(rc, control.rawValue) }
            prepared[control] = stmt
            statement = stmt
        }
        let rc = sqlite3_step(statement)
        let failure = rc == SQLITE_DONE ? nil : error(rc, control.rawValue)
        sqlite3_reset(statement)  // never left active: it would hold the transaction's locks
        if let failure { throw failure }
    }

    func error(_ rc: Int32, _ context: String) -> SQLiteError {
        SQLiteError(code: .init(rawValue: rc), message: "\(context): \(String(cString: sqlite3_errmsg(handle)))")
    }

    /// The rowid of the last row inserted on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// The rows the last INSERT, UPDATE or DELETE on this connection changed.
    public var changes: Int { Int(sqlite3_changes64(handle)) }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "error \(rc)"
            sqlite3_free(message)
            throw SQLiteError(code: .init(rawValue: rc), message: text)
        }
    }

    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, "prepare \(sql.prefix(60))") }
        return Statement(connection: self, handle: stmt)
    }

    /// Whether this connection is inside a transaction that has written (or may write): what
    /// it reads may yet be rolled back.
    public var writing: Bool { sqlite3_txn_state(handle, "main") == SQLITE_TXN_WRITE }

    /// Whether a transaction is open on this connection (read or write).
    public var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// How long a statement waits for another connection's lock before failing with "busy"
    /// (10 s unless set): 0 fails at once.
    public func waitWhenBusy(milliseconds: Int32) { sqlite3_busy_timeout(handle, milliseconds) }

    /// Runs `body`'s reads in one read transaction: they all see one snapshot of the database,
    /// and take the write-ahead log's read lock (a few `fcntl` calls) once instead of once per
    /// statement. Inside a transaction already, `body` simply joins it. `body` must not write
    /// (a `transaction` inside would fail to begin).
    public func read<T>(_ body: () throws -> T) throws -> T {
        guard !inTransaction else { return try body() }
        try run(.begin)
        // Nothing was written, so ending it loses nothing; it must end, or the connection would
        // keep this snapshot for every later read.
        defer { if (try? run(.commit)) == nil { try? run(.rollback) } }
        return try body()
    }

    /// Runs `body` in a transaction (`BEGIN IMMEDIATE`, so concurrent writers queue rather than
    /// deadlock); rolls back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try run(.beginImmediate)
        do {
            let result = try body()
            try run(.commit)
            return result
        } catch {
            try? run(.rollback)
            throw error
        }
    }
}

/// A prepared statement, owned by one connection; finalized in `deinit`.
public final class Statement {
    let connection: SQLiteConnection
    let handle: OpaquePointer
    private let parameterCount: Int

    init(connection: SQLiteConnection, handle: OpaquePointer) {
        self.connection = connection
        self.handle = handle
        parameterCount = Int(sqlite3_bind_parameter_count(handle))
    }

    deinit { sqlite3_finalize(handle) }

    public enum Value {
        case integer(Int64)
        case text(String)
        case blob([UInt8])
        case null
    }

    /// Resets the statement and binds `values` to its parameters in order; parameters past
    /// them are NULL.
    @discardableResult
    public func bind(_ values: [Value]) -> Statement {
        sqlite3_reset(handle)
        if values.count < parameterCount { sqlite3_clear_bindings(handle) }
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case .integer(let v): sqlite3_bind_int64(handle, index, v)
            case .text(let s):
                // With its byte length: a NUL inside the text must not cut it short.
                var text = s
                text.withUTF8 { bytes in
                    guard let base = bytes.baseAddress else { _ = sqlite3_bind_text(handle, index, "", 0, csqlite_transient()); return }
                    _ = base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                        sqlite3_bind_text(handle, index, $0, Int32(bytes.count), csqlite_transient())
                    }
                }
            case .blob(let b): b.withUnsafeBytes { _ = sqlite3_bind_blob(handle, index, $0.baseAddress, Int32(b.count), csqlite_transient()) }
            case .null: sqlite3_bind_null(handle, index)
            }
        }
        return self
    }

    /// Advances to the next row; false when done.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw connection.error(rc, "step")
    }

    /// Ends the statement's run. A statement left mid-result holds a read snapshot, and in WAL
    /// mode a connection with a stale snapshot cannot start writing (SQLITE_BUSY_SNAPSHOT).
    public func reset() { sqlite3_reset(handle) }

    /// Runs a statement that returns no rows. Texts and blobs are bound where they are
    /// (SQLITE_STATIC), not copied as `bind` does (a catch-up stores 700 bytes per entry): each
    /// is bound inside the closure that lends its bytes, and the statement steps, is reset and
    /// has its bindings cleared inside the innermost one, before any bytes are given back.
    public func run(_ values: [Value] = []) throws(SQLiteError) {
        sqlite3_reset(handle)
        if values.count < parameterCount { sqlite3_clear_bindings(handle) }
        try bindInPlace(values, from: 0).get()
    }

    private func bindInPlace(_ values: [Value], from i: Int) -> Result<Void, SQLiteError> {
        guard i < values.count else {
            defer {
                sqlite3_reset(handle)
                sqlite3_clear_bindings(handle)
            }
            do { _ = try step() } catch { return .failure(error) }
            return .success(())
        }
        let index = Int32(i + 1)
        switch values[i] {
        case .integer(let v): sqlite3_bind_int64(handle, index, v)
        case .null: sqlite3_bind_null(handle, index)
        case .blob(let b):
            return b.withUnsafeBytes { bytes in
                sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), nil)
                return bindInPlace(values, from: i + 1)
            }
        case .text(var text):
            return text.withUTF8 { bytes in
                guard let base = bytes.baseAddress else {
                    sqlite3_bind_text(handle, index, "", 0, csqlite_transient())
                    return bindInPlace(values, from: i + 1)
                }
                return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    sqlite3_bind_text(handle, index, $0, Int32(bytes.count), nil)
                    return bindInPlace(values, from: i + 1)
                }
            }
        }
        return bindInPlace(values, from: i + 1)
    }

    public func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    public func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: p)
    }

    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let p = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }
}
