#if canImport(Glibc)
import Glibc
#endif
import Testing
import VellumHTTP

@Suite("HTTP server limits")
struct ServerLimitsTests {
    @Test("HTTP gets at most half the descriptors, between 16 and 4,096 connections", arguments: [
        (1_024, 512), (20_000, 4_096), (1_048_576, 4_096), (40, 20), (10, 16),
    ])
    func connectionCap(descriptors: Int, cap: Int) {
        #expect(HTTPServerLimits.connectionCap(descriptorLimit: descriptors) == cap)
    }

    @Test("the process's soft descriptor limit is raised to the hard limit, and the cap stays below it")
    func raisedLimit() {
        let limits = HTTPServerLimits.forThisProcess(idleTimeout: .seconds(5))
        var hard = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &hard)
        #expect(hard.rlim_cur == hard.rlim_max)
        #expect(limits.maxConnections <= Int(hard.rlim_cur) / 2 || limits.maxConnections == 16)
        #expect(limits.idleTimeout == .seconds(5))
    }
}
