import Foundation
import PluginProtocol
import Testing
@testable import Host

/// deployment.md's TLS block: the real nginx terminating TLS in front of a served Gatehouse, with a certificate
/// made for the test in place of /etc/ssl's and test ports in place of 443 and 8080.
@Suite struct TLSProxyTests {
    @Test func theDocumentedNginxTLSProxyServesTokensAndMetrics() throws {
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "prometheus")
        let certificates = TemporaryDirectory()
        let made = try shell("""
            openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=auth.example.com \
              -keyout auth.example.com.key -out auth.example.com.pem
            """, in: certificates.path)
        #expect(made.status == 0, "openssl (Debian package openssl): \(made.output)")
        let port = try ServedGatehouse.freePort()
        let documented = try DocPage.block("Docs/deployment.md", "nginx", containing: "server_name auth.example.com")
            .replacingOccurrences(of: "listen 443 ssl;", with: "listen 127.0.0.1:\(port) ssl;")
            .replacingOccurrences(of: "/etc/ssl/", with: certificates.path + "/")
            .replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(gatehouse.port)")
        let nginx = try NginxUnderTest(servers: documented, waitingFor: port)
        defer { nginx.stop() }
        let base = "https://auth.example.com:\(port)"
        let tls = ["-s", "--cacert", certificates.path + "/auth.example.com.pem", "--resolve", "auth.example.com:\(port):127.0.0.1"]
        let answer = try runCommand("/usr/bin/curl", tls + ["-u", "\(client.id):\(client.secret)", "-d", "grant_type=client_credentials",
                                                            base + "/api/v1/oauth/token"])
        let token = try #require(try? JSONParser.parse(answer)["access_token"]?.stringValue, "no token through nginx: \(answer)\n\(nginx.errors)")
        let metrics = try runCommand("/usr/bin/curl", tls + ["-H", "Authorization: Bearer \(token)", base + "/api/v1/metrics"])
        #expect(metrics.contains("# TYPE gatehouse_tokens_issued_total counter"), "\(metrics.prefix(300))")
    }
}
