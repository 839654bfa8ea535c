import Testing
import VellumCore
import VellumSimulation
import VellumTestSupport

/// The simulated network of `Scripts/bench` (Docs/PERFORMANCE.md): the real protocol's
/// rounds, over lossy links in simulated time, bring every node to every entry.
@Suite("Gossip simulation: a partition heals over the real protocol")
struct SimulationTests {
    @Test("nodes on lossy links all end up holding every entry (seeded)", arguments: propertySeeds.prefix(3))
    func converges(seed: UInt64) {
        var config = GossipSimulation.Configuration()
        config.nodes = 12
        config.entries = 360
        config.loss = 0.05
        config.seed = seed
        let feeds = GossipSimulation.partitionedFeeds(config)
        #expect(feeds.count == 12 && feeds.allSatisfy { $0.count == 30 })
        let outcome = GossipSimulation.run(config, feeds: feeds)
        guard let time = outcome.converged else {
            Issue.record("seed \(seed): no convergence within \(config.limit) simulated s")
            return
        }
        #expect(time > 0 && time < 30, "seed \(seed): \(time) s")
        #expect(outcome.lost > 0, "seed \(seed): 5% loss lost nothing")
        // The same seed, the same run.
        #expect(GossipSimulation.run(config, feeds: feeds).converged == time, "seed \(seed)")
    }

    @Test("without links, nothing converges, and the run stops at its limit")
    func isolated() {
        var config = GossipSimulation.Configuration()
        config.nodes = 4
        config.entries = 40
        config.fanout = 4
        config.loss = 1
        config.limit = 20
        let outcome = GossipSimulation.run(config, feeds: GossipSimulation.partitionedFeeds(config))
        #expect(outcome.converged == nil && outcome.lost == outcome.messages && outcome.messages > 0)
    }
}
