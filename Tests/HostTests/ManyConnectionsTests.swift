import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

@Suite(.serialized) struct ManyConnectionsTests {
    /// 10,000 connections attempted against a limit of 5,000: the rest are answered 503 and closed, the host
    /// stays up, and once they go, service and file descriptors are back to normal.
    @Test func tenThousandConnections() throws {
        let gatehouse = try ServedGatehouse(config: #"{"http": {"max_connections": 5000}, "access_log": false}"#)
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "watcher")
        let fdsBefore = try openDescriptors(of: gatehouse)
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        for _ in 0..<10_000 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = gatehouse.port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(fd)
                continue
            }
            sockets.append(fd)
        }
        #expect(sockets.count > 9_000, "only \(sockets.count) connects went through")
        // The host accepts up to its limit and answers the rest with a 503 before closing them.
        let refused = PluginTestSupport.eventually(timeout: .seconds(20)) {
            var buffer = [UInt8](repeating: 0, count: 64)
            return sockets.suffix(100).allSatisfy { fd in
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&descriptor, 1, 0) == 1 else { return false }
                return recv(fd, &buffer, buffer.count, Int32(MSG_PEEK)) > 0 && String(decoding: buffer, as: UTF8.self).hasPrefix("HTTP/1.1 503")
            }
        }
        #expect(refused, "the last connections were not refused with 503")
        sockets.forEach { close($0) }
        sockets = []
        // Back to normal: the held connections are gone, tokens flow, descriptors return to where they were.
        #expect(PluginTestSupport.eventually(timeout: .seconds(20)) { (try? gatehouse.metric("gatehouse_build_info{version=\"\(BuildInfo.version)\"}", as: client)) == 1 })
        let refusedCount = try gatehouse.metric(#"gatehouse_http_connections_refused_total{reason="max_connections"}"#, as: client) ?? 0
        #expect(refusedCount >= 4_000, "refused \(refusedCount)")
        #expect(PluginTestSupport.eventually(timeout: .seconds(20)) { ((try? openDescriptors(of: gatehouse)) ?? .max) <= fdsBefore + 10 })
    }

    private func openDescriptors(of gatehouse: ServedGatehouse) throws -> Int {
        let pid = try #require(Int32(try runCommand("/usr/bin/pgrep", ["-f", "gatehouse serve --listen 127.0.0.1:\(gatehouse.port)"])
            .split(separator: "\n").first ?? ""))
        return try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    }
}
