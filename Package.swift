// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Vellum",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vellum", targets: ["vellum"]),
        .library(name: "VellumCore", targets: ["VellumCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // Pure core: encodings, crypto, credentials, entries, merge. No I/O, no clock reads.
        .target(
            name: "VellumCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // The system SQLite library (Debian libsqlite3-dev).
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // Storage: schema, migrations, append-only log, materialized state.
        .target(name: "VellumStore", dependencies: ["VellumCore", "CSQLite"]),
        // The system libzmq (Debian libzmq3-dev), linked directly: its pkg-config flags are not portable.
        .systemLibrary(name: "CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
        // ZeroMQ sockets owned by one polling thread; CURVE and the ZAP allow-list.
        .target(name: "VellumWire", dependencies: ["CZeroMQ"]),
        // The system zlib (Debian zlib1g-dev), for GZIP'd Bitstring Status Lists.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // A node: its data directory, keys and the operations that combine Core and Store.
        .target(
            name: "VellumNode",
            dependencies: [
                "VellumCore", "VellumStore", "VellumWire", "CZlib",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // HTTP: status, verification (own API and VC-API), status lists, metrics, the verifier page.
        .target(
            name: "VellumHTTP",
            dependencies: [
                "VellumNode", "VellumStore", "VellumCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The CLI: argument parsing and output formatting only.
        .executableTarget(
            name: "vellum",
            dependencies: [
                "VellumNode", "VellumCore", "VellumWire", "VellumHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The protocol over a simulated network, in simulated time: convergence of more nodes than
        // one machine runs as processes (Scripts/bench), and the in-memory replica of the unit tests.
        .target(
            name: "VellumSimulation",
            dependencies: ["VellumCore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Scripts/fuzz: every parser of outside bytes as a libFuzzer target, and its replay tool.
        .target(name: "VellumFuzzing", dependencies: ["VellumCore", "VellumNode"]),
        .executableTarget(name: "vellum-fuzz", dependencies: ["VellumFuzzing"]),
        // Scripts/bench: figures as ratios to the physical limits measured in the same run.
        .executableTarget(
            name: "vellum-bench",
            dependencies: [
                "VellumNode", "VellumHTTP", "VellumStore", "VellumCore", "VellumSimulation", "VellumWire", "CSQLite",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Seeds shared by the property tests of several targets.
        .target(name: "VellumTestSupport", dependencies: ["VellumSimulation"], path: "Tests/VellumTestSupport"),
        .testTarget(name: "VellumCoreTests", dependencies: ["VellumCore", "VellumSimulation", "VellumTestSupport"]),
        .testTarget(name: "VellumFuzzingTests", dependencies: ["VellumFuzzing"]),
        .testTarget(name: "VellumWireTests", dependencies: ["VellumWire"]),
        .testTarget(name: "VellumStoreTests", dependencies: ["VellumStore", "VellumNode", "VellumWire", "CSQLite", "VellumTestSupport"]),
        .testTarget(
            name: "VellumHTTPTests",
            dependencies: [
                "VellumHTTP", "VellumNode", "VellumCore", .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(name: "VellumIntegrationTests", dependencies: ["vellum", "VellumCore", "VellumWire", "CSQLite"]),
    ],
    swiftLanguageModes: [.v6]
)
