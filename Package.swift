// swift-tools-version:6.0
import PackageDescription

// Gatehouse: an OAuth 2.0 client-credentials server whose storage and policy live in plugin processes.
// No package dependencies by design (see Docs/architecture.md): only the toolchain and system C libraries.
let package = Package(
    name: "Gatehouse",
    products: [
        .executable(name: "gatehouse", targets: ["GatehouseCLI"]),
        .executable(name: "gatehouse-sqlite-store", targets: ["SQLiteStorePlugin"]),
        .executable(name: "gatehouse-file-store", targets: ["FileStorePlugin"]),
        .executable(name: "gatehouse-postgres-store", targets: ["PostgresStorePlugin"]),
        .executable(name: "gatehouse-scope-rbac", targets: ["ScopeRBACPlugin"]),
        .executable(name: "gatehouse-plugin-bench", targets: ["PluginBench"]),
        .library(name: "PluginProtocol", targets: ["PluginProtocol"]),
    ],
    targets: [
        // Wire types, line codec and the serve loop shared by the host and every Swift plugin.
        .target(name: "PluginProtocol", dependencies: ["JSON"]),
        // JSON values, the parser and writer, strict config reading and descriptor writes: what the HTTP server,
        // config, logging and tokens need without knowing anything of plugins. PluginProtocol re-exports it.
        .target(name: "JSON"),
        // The host: HTTP server, OAuth endpoints, tokens, auth, metrics and the plugin supervisor.
        .target(name: "Host", dependencies: ["JSON", "PluginProtocol", "CryptoPrimitives", "JOSE", "SystemShims"]),
        // SHA-256, HMAC (hashed by libcrypto), base64, constant-time comparison and the CSPRNG: shared by the
        // host and the stores.
        .target(name: "CryptoPrimitives", dependencies: ["SystemShims", "CLibCrypto"]),
        // RS256, ES256 and EdDSA keys and signatures for access tokens, over OpenSSL's libcrypto.
        .target(name: "JOSE", dependencies: ["CLibCrypto", "CryptoPrimitives"]),
        .systemLibrary(name: "CLibCrypto", path: "Sources/CLibCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        // Linux calls Swift's Glibc module does not export (pipe2, accept4, getrandom).
        .target(name: "SystemShims"),
        .executableTarget(name: "GatehouseCLI", dependencies: ["Host"], path: "Sources/gatehouse"),

        // What every Swift store shares: the store methods' semantics over a small backend protocol.
        .target(name: "StoreKit", dependencies: ["PluginProtocol", "CryptoPrimitives"]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .executableTarget(name: "SQLiteStorePlugin", dependencies: ["PluginProtocol", "StoreKit", "CSQLite"],
                          path: "Plugins/sqlite-store"),
        // libpq for postgres-store only: the host never links it.
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .executableTarget(name: "PostgresStorePlugin", dependencies: ["PluginProtocol", "StoreKit", "CPostgres"],
                          path: "Plugins/postgres-store"),
        .executableTarget(name: "FileStorePlugin", dependencies: ["PluginProtocol", "StoreKit"], path: "Plugins/file-store"),
        .executableTarget(name: "ScopeRBACPlugin", dependencies: ["PluginProtocol"], path: "Plugins/scope-rbac"),

        // Measures the plugin transport against the raw pipe floor (Benchmarks/README.md).
        .executableTarget(name: "PluginBench", dependencies: ["Host"], path: "Benchmarks/plugin-bench"),

        // A plugin whose misbehaviour tests can order: slow, silent, crashing, garbage-writing.
        .executableTarget(name: "TestPlugin", dependencies: ["PluginProtocol"], path: "Tests/Fixtures/test-plugin"),
        .testTarget(name: "PluginProtocolTests", dependencies: ["PluginProtocol"]),
        .testTarget(name: "CryptoPrimitivesTests", dependencies: ["CryptoPrimitives"]),
        .testTarget(name: "JOSETests", dependencies: ["JOSE", "CryptoPrimitives"]),
        .testTarget(name: "ScopeRBACTests", dependencies: ["ScopeRBACPlugin", "PluginProtocol"]),
        .testTarget(name: "HostTests", dependencies: [
            "Host", "PluginProtocol", "TestPlugin", "SQLiteStorePlugin", "FileStorePlugin", "PostgresStorePlugin", "ScopeRBACPlugin",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
