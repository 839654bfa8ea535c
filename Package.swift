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
        .target(name: "VellumNode", dependencies: ["VellumCore", "VellumStore", "VellumWire", "CZlib"]),
        // The CLI: argument parsing and output formatting only.
        .executableTarget(
            name: "vellum",
            dependencies: [
                "VellumNode", "VellumCore", "VellumWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Scripts/bench: figures as ratios to the physical limits measured in the same run.
        .executableTarget(name: "vellum-bench", dependencies: ["VellumNode", "VellumStore", "VellumCore", "CSQLite"]),
        .testTarget(name: "VellumCoreTests", dependencies: ["VellumCore"]),
        .testTarget(name: "VellumWireTests", dependencies: ["VellumWire"]),
        .testTarget(name: "VellumStoreTests", dependencies: ["VellumStore", "VellumNode", "CSQLite"]),
        .testTarget(name: "VellumIntegrationTests", dependencies: ["vellum", "VellumCore", "VellumWire", "CSQLite"]),
    ],
    swiftLanguageModes: [.v6]
)
