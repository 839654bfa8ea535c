/// Data-parallel map over all cores, for CPU-bound work such as signing and verifying: chunks
/// run as child tasks of one task group (structured: the call returns when every chunk is
/// done, and results come back in input order). The chunks run on Swift's cooperative pool,
/// one thread per core: pass only CPU work that never blocks (no I/O, no locks held long).
public enum Parallel {
    public static func map<T: Sendable, R: Sendable>(_ items: [T], chunk: Int = 128, _ transform: @escaping @Sendable (T) -> R) async -> [R] {
        if items.count <= chunk { return items.map(transform) }
        let parts = await withTaskGroup(of: (Int, [R]).self, returning: [(Int, [R])].self) { group in
            for start in stride(from: 0, to: items.count, by: chunk) {
                let slice = items[start..<min(items.count, start + chunk)]
                group.addTask { (start, slice.map(transform)) }
            }
            var parts: [(Int, [R])] = []
            for await part in group { parts.append(part) }
            return parts
        }
        var results: [R] = []
        results.reserveCapacity(items.count)
        for part in parts.sorted(by: { $0.0 < $1.0 }) { results += part.1 }
        return results
    }
}
