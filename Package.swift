// swift-tools-version:6.0
import PackageDescription

/// Warnings are errors in CI (`STREAMGATE_STRICT=1`), so a warning never lands unnoticed.
let strict = Context.environment["STREAMGATE_STRICT"] == "1"
let swiftSettings: [SwiftSetting] = strict ? [.unsafeFlags(["-warnings-as-errors"])] : []

/// The gateway's own modules, in release builds only, skip the run-time exclusivity checks
/// (SE-0176): about 45 per proxied request, near a tenth of its instructions
/// (docs/BENCHMARKS.md). The compile-time checks stay, and debug builds, which the test suite
/// and the fuzzers run, keep every run-time check, so an overlapping access still traps there.
let gatewaySettings: [SwiftSetting] = swiftSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "streamgate",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "streamgate", targets: ["StreamgateCLI"]),
        .executable(name: "streamgate-demo-upstream", targets: ["DemoUpstream"]),
        .executable(name: "streamgate-bench", targets: ["StreamgateBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries: module maps only.
        .systemLibrary(name: "CLibevent", path: "Sources/CLibevent"),
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis"),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        // Wrappers for the macros and variadics Swift cannot import.
        .target(
            name: "CStreamgateShims",
            dependencies: ["CLibevent", "CHiredis", "COpenSSL"],
            linkerSettings: [
                .linkedLibrary("event_core"), .linkedLibrary("event_extra"),
                .linkedLibrary("event_openssl"), .linkedLibrary("event_pthreads"),
                .linkedLibrary("hiredis"), .linkedLibrary("ssl"), .linkedLibrary("crypto"),
            ]
        ),
        // Pure Swift: parsing, routing, auth decisions, SSE framing, config.
        .target(name: "StreamgateCore", swiftSettings: gatewaySettings),
        // The only Swift module that touches the C libraries.
        .target(
            name: "StreamgateIO",
            dependencies: ["StreamgateCore", "CLibevent", "CHiredis", "COpenSSL", "CStreamgateShims"],
            swiftSettings: gatewaySettings
        ),
        // What the bundled tools (demo upstream, load generator) and tests share, kept out of
        // the gateway's own modules.
        .target(name: "StreamgateTools", dependencies: ["StreamgateIO"], swiftSettings: swiftSettings),
        // Composition: gateway server, proxy sessions, upstream pools.
        .target(name: "Streamgate", dependencies: ["StreamgateCore", "StreamgateIO"], swiftSettings: gatewaySettings),
        .executableTarget(
            name: "StreamgateCLI",
            dependencies: ["Streamgate", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "DemoUpstream",
            dependencies: ["StreamgateIO", "StreamgateCore", "StreamgateTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "StreamgateBench",
            dependencies: ["StreamgateIO", "StreamgateCore", "StreamgateTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "StreamgateCoreTests", dependencies: ["StreamgateCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "StreamgateIntegrationTests",
            dependencies: ["Streamgate", "StreamgateIO", "StreamgateCore", "StreamgateTools"],
            swiftSettings: swiftSettings
        ),
    ]
)

/// libFuzzer targets for the pure parsers (`STREAMGATE_FUZZ=1`; see scripts/fuzz.sh). Only
/// declared when asked for, so the normal build and test never compile them.
if Context.environment["STREAMGATE_FUZZ"] == "1" {
    package.targets.append(.target(name: "FuzzSupport", dependencies: ["StreamgateCore"], path: "Tests/Fuzz/Support",
                                       swiftSettings: swiftSettings))
    for name in [
        "FuzzRequestHead", "FuzzResponseHead", "FuzzChunkedBody", "FuzzSSEBoundary",
        "FuzzPathCanonicalizer", "FuzzConfig", "FuzzSessionRecord", "FuzzProxyHeader",
    ] {
        package.targets.append(.executableTarget(
            name: name, dependencies: ["StreamgateCore", "FuzzSupport"], path: "Tests/Fuzz/Targets/\(name)",
            swiftSettings: swiftSettings))
    }
}
