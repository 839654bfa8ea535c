import Testing
import VellumCore

/// `Parallel.map` used to initialize a buffer of optionals and deallocate it without
/// deinitializing it, so every result of every batch (ingest, bulk issuance, audit) leaked.
@Suite("Parallel map")
struct ParallelTests {
    final class Token: Sendable {}

    @Test("results come back in input order, and nothing of them outlives the caller's copies")
    func orderAndNoLeak() async {
        weak var first: Token?
        weak var last: Token?
        do {
            let tokens = await Parallel.map(Array(0..<1_000), chunk: 16) { i in (i, Token()) }
            #expect(tokens.map(\.0) == Array(0..<1_000))
            first = tokens.first?.1
            last = tokens.last?.1
            #expect(first != nil && last != nil)
        }
        #expect(first == nil && last == nil, "results leaked")
    }
}
