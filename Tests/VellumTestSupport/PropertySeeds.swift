import Foundation
@_exported import VellumSimulation

/// Seeds: fixed ones, plus a fresh one per run (printed), or exactly `VELLUM_SEED` to replay.
public let propertySeeds: [UInt64] = {
    if let text = ProcessInfo.processInfo.environment["VELLUM_SEED"], let seed = UInt64(text) { return [seed] }
    let fresh = UInt64.random(in: 0...UInt64.max)
    print("property tests: fresh seed \(fresh) (replay with VELLUM_SEED=\(fresh))")
    return [1, 2, 3, 42, 1234, 99_991, fresh]
}()
