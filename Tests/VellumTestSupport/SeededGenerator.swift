import Foundation

/// SplitMix64: a tiny seeded generator so every property run can be replayed from its seed.
public struct SeededGenerator: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Seeds: fixed ones, plus a fresh one per run (printed), or exactly `VELLUM_SEED` to replay.
public let propertySeeds: [UInt64] = {
    if let text = ProcessInfo.processInfo.environment["VELLUM_SEED"], let seed = UInt64(text) { return [seed] }
    let fresh = UInt64.random(in: 0...UInt64.max)
    print("property tests: fresh seed \(fresh) (replay with VELLUM_SEED=\(fresh))")
    return [1, 2, 3, 42, 1234, 99_991, fresh]
}()

