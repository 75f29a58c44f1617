import Foundation
import Glibc
@testable import Host

/// A raw TCP client for tests that must control every byte (pipelining, slow clients, bad framing).
final class RawHTTPClient {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until the peer closes or `timeout` passes.
    func readAll(timeout: Duration = .seconds(5)) -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = MonotonicTime.now() + timeout
        while MonotonicTime.now() < deadline {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            out += buffer[0..<count]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Reads until `count` complete responses (by Content-Length) have arrived.
    func readResponses(_ count: Int, timeout: Duration = .seconds(5)) -> [ParsedResponse] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = MonotonicTime.now() + timeout
        while MonotonicTime.now() < deadline {
            let parsed = ParsedResponse.parseAll(data)
            if parsed.count >= count { return parsed }
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received <= 0 { return parsed }
            data += buffer[0..<received]
        }
        return ParsedResponse.parseAll(data)
    }

    /// True once the server has closed the connection.
    func isClosedByPeer(within timeout: Duration = .seconds(3)) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = MonotonicTime.now() + timeout
        while MonotonicTime.now() < deadline {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return true }
            if count < 0 && errno != EAGAIN && errno != EWOULDBLOCK { return true }
        }
        return false
    }
}

struct ParsedResponse {
    var status: Int
    var headers: [String: String]
    var body: String

    static func parseAll(_ data: [UInt8]) -> [ParsedResponse] {
        var responses: [ParsedResponse] = []
        var rest = data[...]
        while let headEnd = rest.firstRange(of: [13, 10, 13, 10]) {
            let head = String(decoding: rest[rest.startIndex..<headEnd.lowerBound], as: UTF8.self)
            let lines = head.components(separatedBy: "\r\n")
            let status = Int(lines[0].split(separator: " ")[1]) ?? 0
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            if status == 100 {
                rest = rest[headEnd.upperBound...]
                responses.append(ParsedResponse(status: 100, headers: headers, body: ""))
                continue
            }
            guard rest.distance(from: headEnd.upperBound, to: rest.endIndex) >= length else { break }
            let bodyEnd = rest.index(headEnd.upperBound, offsetBy: length)
            responses.append(ParsedResponse(status: status, headers: headers,
                                             body: String(decoding: rest[headEnd.upperBound..<bodyEnd], as: UTF8.self)))
            rest = rest[bodyEnd...]
        }
        return responses
    }
}
