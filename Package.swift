// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "cella",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cella", targets: ["cella"]),
        .executable(name: "cella-bench", targets: ["cella-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // The code between clone and exec, and the syscalls Glibc does not export to Swift.
        .target(name: "CSandboxShim"),
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        .target(
            name: "CellaSandbox",
            dependencies: [
                "CSandboxShim",
                "CSeccomp",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("Resources/default.json")]
        ),
        // zlib, for inflating zip entries and gunzipping tar.gz bundles.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // Plain Codable values shared by the agent, the controller and the CLI.
        .target(name: "CellaModel"),
        // Function bundles: zip and tar.gz checked entry by entry and unpacked without following
        // links; the content-addressed store the agent keeps them in. The controller runs the same
        // checks at upload.
        .target(
            name: "CellaBundles",
            dependencies: [
                "CellaModel",
                "CellaSandbox",
                "CZlib",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The daemons' HTTP servers: Hummingbird, with the invoke routes answered inside the
        // connection's pipeline (DirectRoutes).
        .target(
            name: "CellaHTTP",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The node agent: instance pool, Runtime API server, agent HTTP API, bundles, runtimes.
        .target(
            name: "CellaAgent",
            dependencies: [
                "CellaModel",
                "CellaHTTP",
                "CellaSandbox",
                "CellaBundles",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .target(
            name: "CellaCLI",
            dependencies: [
                "CellaSandbox",
                "CellaAgent",
                "CellaController",
                "CellaStore",
                "CellaIAM",
                "CZlib",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Policy documents, validation and evaluation; pure: Foundation, and CellaModel's JSON lexer.
        .target(name: "CellaIAM", dependencies: ["CellaModel"]),
        // The durable state behind controllers: the Store protocol, SQLite and PostgreSQL.
        .target(
            name: "CellaStore",
            dependencies: [
                "CellaModel",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // HTTP routes, placement, node registry, async queue, quotas, metering.
        .target(
            name: "CellaController",
            dependencies: [
                "CellaModel", "CellaStore", "CellaIAM", "CellaAuth", "CellaBundles", "CellaHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // SigV4 verification and API keys.
        .target(
            name: "CellaAuth",
            dependencies: ["CellaIAM", "CellaModel", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(name: "cella", dependencies: ["CellaCLI"]),
        .executableTarget(
            name: "cella-bench",
            dependencies: [
                "CellaSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/cella-bench"
        ),
        .executableTarget(
            name: "cella-iam-bench",
            dependencies: ["CellaIAM", "CellaAuth", "CellaModel"],
            path: "Benchmarks/cella-iam-bench"
        ),
        .executableTarget(
            name: "cella-hop-bench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/cella-hop-bench"
        ),
        .executableTarget(
            name: "cella-json-bench",
            dependencies: ["CellaModel"],
            path: "Benchmarks/cella-json-bench"
        ),
        .executableTarget(
            name: "cella-placement-bench",
            dependencies: ["CellaController", "CellaModel"],
            path: "Benchmarks/cella-placement-bench"
        ),
        .executableTarget(
            name: "cella-store-bench",
            dependencies: ["CellaStore", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/cella-store-bench"
        ),
        .testTarget(name: "CellaSandboxTests", dependencies: ["CellaSandbox", "CellaTestSupport"]),
        .testTarget(name: "CellaCLITests", dependencies: ["CellaCLI", "CellaTestSupport"]),
        .testTarget(name: "CellaIAMTests", dependencies: ["CellaIAM"]),
        .testTarget(name: "CellaModelTests", dependencies: ["CellaModel"]),
        .testTarget(
            name: "CellaHTTPTests",
            dependencies: [
                "CellaHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Test helpers shared by test targets: a private PostgreSQL server, running commands.
        .target(
            name: "CellaTestSupport",
            dependencies: [
                "CellaStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/CellaTestSupport"
        ),
        .testTarget(
            name: "CellaControllerTests",
            dependencies: [
                "CellaController", "CellaStore", "CellaModel", "CellaTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "CellaStoreTests",
            dependencies: [
                "CellaStore", "CellaTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CellaAgentTests",
            dependencies: [
                "CellaAgent",
                "CellaBundles",
                "CellaTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(name: "CellaBundlesTests", dependencies: ["CellaBundles", "CZlib", "CellaTestSupport"]),
        .testTarget(
            name: "CellaAuthTests",
            dependencies: ["CellaAuth", "CellaModel", .product(name: "Crypto", package: "swift-crypto")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
