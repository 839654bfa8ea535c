import Foundation
import VellumNode

/// Read-only views of one node's ledger for concurrent requests: each request borrows a
/// `LedgerReader` (its own read-only SQLite connection; WAL lets readers run beside the
/// writer; no key material is ever loaded) and returns it. At most `capacity` readers exist:
/// a request that finds all of them busy waits for one, so a burst of requests cannot open
/// an unbounded number of connections (and file descriptors). Requests run on
/// `HandlerThreads`, one reader for each, so none waits.
final class NodePool: @unchecked Sendable {  // `idle` and `opened` are guarded by `lock`
    let path: String
    let capacity: Int
    private let lock = NSCondition()
    private var idle: [LedgerReader] = []
    private var opened = 0

    init(path: String, capacity: Int) throws {
        precondition(capacity >= 1)
        self.path = path
        self.capacity = capacity
        idle = [try LedgerReader(path: path)]  // fail at start, not on the first request
        opened = 1
    }

    func with<T>(_ body: (LedgerReader) throws -> T) throws -> T {
        let reader = try borrow()
        defer {
            lock.lock()
            idle.append(reader)
            lock.signal()
            lock.unlock()
        }
        return try body(reader)
    }

    private func borrow() throws -> LedgerReader {
        lock.lock()
        while idle.isEmpty && opened >= capacity { lock.wait() }
        if let reader = idle.popLast() {
            lock.unlock()
            return reader
        }
        opened += 1
        lock.unlock()
        do { return try LedgerReader(path: path) } catch {
            lock.lock()
            opened -= 1
            lock.signal()
            lock.unlock()
            throw error
        }
    }
}
