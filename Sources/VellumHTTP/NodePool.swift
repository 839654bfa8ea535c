import Foundation
import VellumNode

/// Read-only handles on one node's data directory for concurrent requests: each request
/// borrows a `Node` (its own SQLite connection; WAL lets readers run beside the writer) and
/// returns it. Requests run on `HandlerThreads`, so at most that many handles are open.
final class NodePool: @unchecked Sendable {  // `idle` is guarded by `lock`
    let path: String
    private let lock = NSLock()
    private var idle: [Node] = []

    init(path: String) throws {
        self.path = path
        idle = [try Node.open(at: path)]  // fail at start, not on the first request
    }

    func with<T>(_ body: (Node) throws -> T) throws -> T {
        let node = try lock.withLock { idle.popLast() } ?? Node.open(at: path)
        defer { lock.withLock { idle.append(node) } }
        return try body(node)
    }
}
