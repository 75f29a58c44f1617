import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// Running Gatehouse as an installed service (Docs/deployment.md): scripts/install, the systemd unit, and the
/// backup and restore blocks run as written.
@Suite struct InstallTests {
    static let systemdAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let sqlite3 = ["/usr/bin/sqlite3", "/bin/sqlite3"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// `scripts/install --prefix DIR --build-dir <the binaries under test> --unit-dir DIR/systemd`.
    private func install(into prefix: TemporaryDirectory) throws -> ShellResult {
        try shell("scripts/install --prefix '\(prefix.path)' --build-dir '\(PluginTestSupport.buildDirectory)' --unit-dir '\(prefix.path)/systemd'",
                  in: PluginTestSupport.packageRoot)
    }

    @Test func theInstallScriptPutsTheHostAndItsPluginsWhereTheHostFindsThem() throws {
        let prefix = TemporaryDirectory()
        let installed = try install(into: prefix)
        #expect(installed.status == 0, "\(installed.output)")
        for binary in ["gatehouse", "gatehouse-sqlite-store", "gatehouse-file-store", "gatehouse-scope-rbac"] {
            #expect(FileManager.default.isExecutableFile(atPath: "\(prefix.path)/bin/\(binary)"), "\(binary) not installed")
        }
        // Served from the prefix with a PATH that holds no plugin: they are found beside the host.
        let port = try ServedGatehouse.freePort()
        let served = try shell("""
            "\(prefix.path)/bin/gatehouse" serve --listen 127.0.0.1:\(port) --data "\(prefix.path)/data" 2>"\(prefix.path)/log" &
            for attempt in $(seq 100); do
              curl -sf http://127.0.0.1:\(port)/api/v1/status/ready && exit 0
              sleep 0.1
            done
            cat "\(prefix.path)/log"; exit 1
            """, in: prefix.path, environment: ["PATH": "/usr/bin:/bin"])
        #expect(served.status == 0 && served.output.contains("ready"), "\(served.output)")
        #expect(try shell("scripts/install --bogus", in: PluginTestSupport.packageRoot).status == 2)
    }

    /// The unit as installed (ExecStart pointing at the installed binary) passes `systemd-analyze verify` with
    /// no warning at all (verify exits 0 on unknown keys and bad values, so its output must be empty) and keeps
    /// `systemd-analyze security`'s exposure at or under 1.5.
    @Test(.enabled(if: systemdAnalyze != nil, "needs systemd-analyze (Debian package systemd; scripts/bootstrap --test installs it)"))
    func theSystemdUnitVerifiesCleanlyAndIsHardened() throws {
        let analyze = try #require(Self.systemdAnalyze)
        let prefix = TemporaryDirectory()
        #expect(try install(into: prefix).status == 0)
        let unit = prefix.path + "/systemd/gatehouse.service"
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        #expect(text.contains("ExecStart=\(prefix.path)/bin/gatehouse serve"), "ExecStart does not point at the installed binary")
        for line in ["User=gatehouse", "ExecReload=/bin/kill -HUP $MAINPID", "StateDirectory=gatehouse", "ProtectSystem=strict",
                     "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes", "LimitCORE=0", "CapabilityBoundingSet=\n",
                     "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service", "UMask=0077"] {
            #expect(text.contains(line), "the unit lost \(line)")
        }
        let verify = try shell("'\(analyze)' verify '\(unit)'", in: prefix.path)
        #expect(verify.status == 0 && verify.output.isEmpty, "systemd-analyze verify:\n\(verify.output)")
        let security = try shell("'\(analyze)' security --offline=true --threshold=15 '\(unit)'", in: prefix.path)
        #expect(security.status == 0, "exposure above 1.5:\n\(security.output.suffix(2000))")
    }

    /// The unit's SystemCallFilter lets the host and its plugins do what they do: every system call an strace of
    /// them serving a token, the metrics, a SIGHUP reload and a SIGTERM drain makes is in the allowed set and
    /// none in the denied one. (As root SQLite also fchowns its files to the database's owner; the service runs
    /// as `gatehouse`, where it does not, so fchown is not held against the unit when the test runs as root.)
    @Test(.enabled(if: systemdAnalyze != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"),
                   "needs systemd-analyze and strace (scripts/bootstrap --test installs both)"))
    func theSystemCallFilterAllowsEverythingTheHostAndItsPluginsCall() throws {
        let unit = try String(contentsOfFile: PluginTestSupport.packageRoot + "/contrib/systemd/gatehouse.service", encoding: .utf8)
        let filters = unit.components(separatedBy: "\n").filter { $0.hasPrefix("SystemCallFilter=") }.map { String($0.dropFirst(17)) }
        let allowed = filters.filter { !$0.hasPrefix("~") }.joined(separator: " ")
        let denied = filters.filter { $0.hasPrefix("~") }.map { String($0.dropFirst()) }.joined(separator: " ")
        let directory = TemporaryDirectory()
        let port = try ServedGatehouse.freePort()
        let gatehouse = PluginTestSupport.executable("gatehouse")
        let script = """
            expand() { for group in "$@"; do systemd-analyze syscall-filter "$group" | tail -n +2 | sed -e 's/^ *//' -e '/^#/d' -e '/^$/d' |
              while read -r name; do case "$name" in @*) expand "$name" ;; *) echo "$name" ;; esac; done; done; }
            strace -f -qq -o trace '\(gatehouse)' serve --listen 127.0.0.1:\(port) --data data 2>serve.log &
            for attempt in $(seq 100); do curl -sf http://127.0.0.1:\(port)/api/v1/status/ready >/dev/null && break; sleep 0.1; done
            client=$('\(gatehouse)' client add --data data --name p --scope metrics --json)
            token=$(curl -s -u "$(jq -r .client_id <<<"$client"):$(jq -r .client_secret <<<"$client")" -d grant_type=client_credentials \\
              http://127.0.0.1:\(port)/api/v1/oauth/token | jq -r .access_token)
            curl -sf -H "Authorization: Bearer $token" http://127.0.0.1:\(port)/api/v1/metrics >/dev/null || echo "no metrics"
            tracer=$!
            host=$(pgrep -P "$tracer")
            [ -n "$host" ] || { echo "not allowed: (no host process under strace)"; kill "$tracer"; exit 1; }
            kill -HUP "$host"; sleep 1; kill -TERM "$host"
            wait "$tracer"
            expand \(allowed) | sort -u > allowed
            expand \(denied) | sort -u > denied
            sed -n 's/^[0-9]* *\\([a-z_0-9]*\\)(.*/\\1/p' trace | sort -u > called
            echo "calls: $(wc -l < called)"
            comm -23 called allowed | sed 's/^/not allowed: /'
            comm -12 called denied | sed 's/^/denied: /'
            """
        let result = try shell(script, in: directory.path, timeout: .seconds(60))
        let problems = result.output.components(separatedBy: "\n").filter { $0.hasPrefix("not allowed:") || $0.hasPrefix("denied:") || $0 == "no metrics" }
            .filter { getuid() != 0 || !$0.hasSuffix(" fchown") }
        let calls = Int(AlertRulesTests.matches("calls: *([0-9]+)", in: result.output).first ?? "") ?? 0
        #expect(calls >= 50, "the trace shows \(calls) distinct system calls: \(result.output)")
        #expect(problems.isEmpty, "\(problems)\n\(result.output.suffix(1500))")
    }

    /// deployment.md "Backup and restore": back up a running host, wipe its data directory, restore, start again:
    /// a token issued before the backup still verifies and the client still gets tokens with its secret.
    @Test(.enabled(if: sqlite3 != nil, "needs the sqlite3 command (Debian package sqlite3; scripts/bootstrap --test installs it)"))
    func backupAndRestoreWorkAsWritten() throws {
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let data = gatehouse.directory.path + "/data"
        let backups = TemporaryDirectory()
        func local(_ block: String) -> String {
            block.replacingOccurrences(of: "/var/lib/gatehouse", with: data).replacingOccurrences(of: "/var/backups/gatehouse", with: backups.path)
        }
        let client = try gatehouse.addClient(name: "prometheus")
        let before = try gatehouse.token(client)
        let backup = local(try DocPage.block("Docs/deployment.md", "sh", containing: ".backup "))
        let backedUp = try shell("set -e\n" + backup, in: backups.path)
        #expect(backedUp.status == 0, "\(backedUp.output)")
        for file in ["gatehouse.sqlite3", "keys.tar"] {
            let mode = try FileManager.default.attributesOfItem(atPath: backups.path + "/" + file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file) is \(String(mode ?? 0, radix: 8)), not 0600")
        }
        let removed = try gatehouse.addClient(name: "made-after-the-backup")
        gatehouse.stop()
        for entry in try FileManager.default.contentsOfDirectory(atPath: data) { try FileManager.default.removeItem(atPath: data + "/" + entry) }

        // As root but without systemd and without a `gatehouse` user: the service steps and the owner flags go.
        let restore = local(try DocPage.block("Docs/deployment.md", "sh", containing: "systemctl stop gatehouse"))
            .components(separatedBy: "\n").filter { !$0.hasPrefix("systemctl ") }.joined(separator: "\n")
            .replacingOccurrences(of: " -o gatehouse -g gatehouse", with: "")
        let restored = try shell("set -e\n" + restore, in: backups.path)
        #expect(restored.status == 0, "\(restored.output)")
        try gatehouse.start()
        let old = try gatehouse.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(before)")])
        #expect(old.status == 200, "a token from before the backup: \(old.status) \(old.headers["www-authenticate"] ?? "")")
        #expect(!(try gatehouse.token(client)).isEmpty, "the client's secret no longer works")
        #expect((try? gatehouse.token(removed)) == nil, "a client made after the backup survived the restore")
    }

    /// deployment.md "Upgrading": a token survives a restart, but changing `issuer` voids it, with the message
    /// the page quotes; a new token works at once.
    @Test func aRestartKeepsTokensAndAChangedIssuerVoidsThem() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("prom")
        let token = try host.token(id: "prom")
        try host.restart()
        #expect(try host.metrics(token: token).status == 200, "a restart voided a live token")
        try host.restart { $0.issuer = "https://auth.example.com" }
        let refused = try host.metrics(token: token)
        #expect(refused.status == 401)
        #expect(refused.headers["www-authenticate"]?.contains("the access token was issued by another issuer") == true, "\(refused.headers)")
        #expect(try host.metrics(token: try host.token(id: "prom")).status == 200)
    }
}

extension ServedGatehouse {
    /// A fresh access token for `client` (client_secret_basic); throws if the token endpoint refused it.
    func token(_ client: (id: String, secret: String)) throws -> String {
        let answer = try runCommand("/usr/bin/curl", ["-s", "-u", "\(client.id):\(client.secret)", "-d", "grant_type=client_credentials",
                                                      url + "/api/v1/oauth/token"])
        guard let token = try JSONParser.parse(answer)["access_token"]?.stringValue else { throw TestFailure("no token: \(answer)") }
        return token
    }
}
