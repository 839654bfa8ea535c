import Dispatch

/// Data-parallel map over all cores, for CPU-bound work such as signing and verifying.
public enum Parallel {
    public static func map<T: Sendable, R: Sendable>(_ items: [T], chunk: Int = 128, _ transform: @Sendable (T) -> R) -> [R] {
        if items.count <= chunk { return items.map(transform) }
        let results = UnsafeMutableBufferPointer<R?>.allocate(capacity: items.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        nonisolated(unsafe) let out = results.baseAddress!
        let chunks = (items.count + chunk - 1) / chunk
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in (c * chunk)..<min(items.count, (c + 1) * chunk) { out[i] = transform(items[i]) }
        }
        return results.map { $0! }
    }
}
