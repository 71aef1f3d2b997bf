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
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
            ]
        ),
        .target(
            name: "CellaCLI",
            dependencies: [
                "CellaSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Policy documents, validation and evaluation; pure, Foundation only.
        .target(name: "CellaIAM"),
        // SigV4 verification and API keys.
        .target(
            name: "CellaAuth",
            dependencies: ["CellaIAM", .product(name: "Crypto", package: "swift-crypto")]
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
            dependencies: ["CellaIAM", "CellaAuth"],
            path: "Benchmarks/cella-iam-bench"
        ),
        .testTarget(name: "CellaSandboxTests", dependencies: ["CellaSandbox"]),
        .testTarget(name: "CellaCLITests", dependencies: ["CellaCLI"]),
        .testTarget(name: "CellaIAMTests", dependencies: ["CellaIAM"]),
        .testTarget(
            name: "CellaAuthTests",
            dependencies: ["CellaAuth", .product(name: "Crypto", package: "swift-crypto")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
