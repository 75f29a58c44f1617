import Glibc

/// Incremental HTTP/1.1 request parser (RFC 9112), bounded at every step.
///
/// Feed it the unconsumed bytes of a connection; it reports how many it consumed and what it found. It
/// never holds more than one request head plus the configured body, refuses ambiguous framing that
/// enables request smuggling (both `Content-Length` and `Transfer-Encoding`, differing lengths), and maps
/// every limit to its status: 414 request line, 431 headers, 413 body, 501 unknown transfer coding,
/// 505 version, 417 unknown expectation, 400 anything malformed.
public struct HTTPRequestParser: Sendable {
    public enum Event: Sendable {
        /// More bytes are needed.
        case needMore
        /// The head asked for `100 Continue`; send it, then keep feeding the body.
        case continueNeeded
        case request(HTTPRequest)
        /// The request is refused; answer with this status and close the connection.
        case failure(HTTPError)
    }

    public let limits: HTTPLimits
    public static let maxRequestLineBytes = 8 * 1024
    private static let maxChunkLineBytes = 1024

    private enum State: Sendable {
        case head(scanned: Int)
        case fixedBody(HTTPRequest, remaining: Int)
        case chunkSize(HTTPRequest)
        case chunkData(HTTPRequest, remaining: Int)
        case chunkDataEnd(HTTPRequest)
        case trailers(HTTPRequest, bytes: Int)
    }

    private var state = State.head(scanned: 0)

    public init(limits: HTTPLimits) { self.limits = limits }

    /// True between requests: nothing of a next request has been parsed yet.
    public var isIdle: Bool {
        if case .head(let scanned) = state { return scanned == 0 }
        return false
    }

    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, event: Event) {
        var consumed = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[consumed...])
            switch state {
            case .head(let scanned):
                if let error = requestLineTooLong(rest) { return (consumed, .failure(error)) }
                guard let end = Self.find(crlfcrlf: rest, from: max(0, scanned - 3)) else {
                    if rest.count > limits.maxHeaderBytes { return (consumed, .failure(HTTPError(431, "request headers too large"))) }
                    state = .head(scanned: rest.count)
                    return (consumed, .needMore)
                }
                guard end + 4 <= limits.maxHeaderBytes else {
                    return (consumed, .failure(HTTPError(431, "request headers too large")))
                }
                let headBytes = UnsafeRawBufferPointer(rebasing: rest[0..<end])
                consumed += end + 4
                switch parseHead(headBytes) {
                case .failure(let error): return (consumed, .failure(error))
                case .success(let (request, framing, expectContinue)):
                    switch framing {
                    case .none:
                        state = .head(scanned: 0)
                        return (consumed, .request(request))
                    case .length(let length):
                        state = .fixedBody(request, remaining: length)
                    case .chunked:
                        state = .chunkSize(request)
                    }
                    if expectContinue { return (consumed, .continueNeeded) }
                }

            case .fixedBody(var request, let remaining):
                let take = min(remaining, rest.count)
                request.body.append(contentsOf: rest[0..<take])
                consumed += take
                if take == remaining {
                    state = .head(scanned: 0)
                    return (consumed, .request(request))
                }
                state = .fixedBody(request, remaining: remaining - take)
                return (consumed, .needMore)

            case .chunkSize(let request):
                guard let lineEnd = Self.find(crlf: rest) else {
                    if rest.count > Self.maxChunkLineBytes { return (consumed, .failure(.badRequest("chunk size line too long"))) }
                    return (consumed, .needMore)
                }
                // As for trailers: a complete line is held to the limit the same line arriving slowly would meet
                // (a line and its CR are what is buffered while the LF has not come yet). Found by fuzzing.
                guard lineEnd + 1 <= Self.maxChunkLineBytes else { return (consumed, .failure(.badRequest("chunk size line too long"))) }
                guard let size = Self.chunkSize(UnsafeRawBufferPointer(rebasing: rest[0..<lineEnd])) else {
                    return (consumed, .failure(.badRequest("invalid chunk size")))
                }
                consumed += lineEnd + 2
                if size == 0 {
                    state = .trailers(request, bytes: 0)
                } else {
                    guard request.body.count + size <= limits.maxBodyBytes else {
                        return (consumed, .failure(HTTPError(413, "request body larger than \(limits.maxBodyBytes) bytes")))
                    }
                    state = .chunkData(request, remaining: size)
                }

            case .chunkData(var request, let remaining):
                let take = min(remaining, rest.count)
                request.body.append(contentsOf: rest[0..<take])
                consumed += take
                if take < remaining {
                    state = .chunkData(request, remaining: remaining - take)
                    return (consumed, .needMore)
                }
                state = .chunkDataEnd(request)

            case .chunkDataEnd(let request):
                guard rest.count >= 2 else { return (consumed, .needMore) }
                guard rest[0] == 0x0D, rest[1] == 0x0A else { return (consumed, .failure(.badRequest("chunk not followed by CRLF"))) }
                consumed += 2
                state = .chunkSize(request)

            case .trailers(let request, let seen):
                // Trailer fields are read and discarded (RFC 9112 §7.1.2 lets a recipient ignore them).
                guard let lineEnd = Self.find(crlf: rest) else {
                    if seen + rest.count > limits.maxHeaderBytes { return (consumed, .failure(HTTPError(431, "trailers too large"))) }
                    return (consumed, .needMore)
                }
                // The limit holds for complete lines too, not only while waiting for one: otherwise trailers
                // that arrive in one read could exceed what the same bytes arriving slowly may (found by fuzzing).
                guard seen + lineEnd + 2 <= limits.maxHeaderBytes else { return (consumed, .failure(HTTPError(431, "trailers too large"))) }
                consumed += lineEnd + 2
                if lineEnd == 0 {
                    state = .head(scanned: 0)
                    return (consumed, .request(request))
                }
                state = .trailers(request, bytes: seen + lineEnd + 2)
            }
        }
    }

    // MARK: - Head

    private enum Framing { case none, length(Int), chunked }

    private func parseHead(_ head: UnsafeRawBufferPointer) -> Result<(HTTPRequest, Framing, Bool), HTTPError> {
        // Lines end in CRLF; a CR or LF anywhere else is refused (RFC 9112 §2.2). Found with memchr, not a
        // byte loop: this runs for every request.
        var lines = Self.Lines(head)
        var requestLine: UnsafeRawBufferPointer
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
        repeat {
            switch lines.next() {
            case nil: return .failure(.badRequest("empty request"))
            case .failure(let error)?: return .failure(error)
            case .success(let line)?: requestLine = line
            }
        } while requestLine.isEmpty
        guard requestLine.count <= Self.maxRequestLineBytes else { return .failure(HTTPError(414, "request target too long")) }

        guard let firstSpace = Self.index(of: 0x20, in: requestLine, from: 0),
            let secondSpace = Self.index(of: 0x20, in: requestLine, from: firstSpace + 1),
            Self.index(of: 0x20, in: requestLine, from: secondSpace + 1) == nil
        else { return .failure(.badRequest("malformed request line")) }
        let methodBytes = UnsafeRawBufferPointer(rebasing: requestLine[0..<firstSpace])
        let targetBytes = UnsafeRawBufferPointer(rebasing: requestLine[(firstSpace + 1)..<secondSpace])
        let versionBytes = UnsafeRawBufferPointer(rebasing: requestLine[(secondSpace + 1)...])
        guard !methodBytes.isEmpty, Self.all(methodBytes, Self.tokenBytes) else { return .failure(.badRequest("invalid method")) }
        let method = String(decoding: methodBytes, as: UTF8.self)
        guard !targetBytes.isEmpty, Self.all(targetBytes, Self.targetBytes) else {
            return .failure(.badRequest("invalid request target"))
        }
        var target = String(decoding: targetBytes, as: UTF8.self)
        let version: HTTPVersion
        switch String(decoding: versionBytes, as: UTF8.self) {
        case "HTTP/1.1": version = .http11
        case "HTTP/1.0": version = .http10
        case let other where other.hasPrefix("HTTP/") && other.count == 8: return .failure(HTTPError(505, "HTTP version not supported"))
        default: return .failure(.badRequest("invalid HTTP version"))
        }
        if targetBytes[0] == UInt8(ascii: "/") {
            // Origin form, the common case.
        } else if target.hasPrefix("http://") || target.hasPrefix("https://") {
            // Absolute form (RFC 9112 §3.2.2): keep the path and query.
            let afterScheme = target[target.index(target.startIndex, offsetBy: target.hasPrefix("https") ? 8 : 7)...]
            target = afterScheme.firstIndex(of: "/").map { String(afterScheme[$0...]) } ?? "/"
        } else if !(target == "*" && method == "OPTIONS") {
            return .failure(.badRequest("invalid request target"))
        }

        var headers = HTTPHeaders()
        headers.reserveCapacity(8)  // What clients send: one allocation instead of one per doubling.
        while let next = lines.next() {
            let line: UnsafeRawBufferPointer
            switch next {
            case .failure(let error): return .failure(error)
            case .success(let found): line = found
            }
            guard headers.fields.count < limits.maxHeaderCount else { return .failure(HTTPError(431, "too many header fields")) }
            guard let first = line.first, first != 0x20, first != 0x09 else {
                return .failure(.badRequest("obsolete line folding"))  // RFC 9112 §5.2
            }
            guard let colon = Self.index(of: UInt8(ascii: ":"), in: line, from: 0) else {
                return .failure(.badRequest("header without colon"))
            }
            let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
            // RFC 9112 §5.1: no whitespace between name and colon; such a request MUST be rejected.
            guard !name.isEmpty, Self.all(name, Self.tokenBytes) else { return .failure(.badRequest("invalid header name")) }
            var valueStart = colon + 1
            var valueEnd = line.count
            while valueStart < valueEnd, line[valueStart] == 0x20 || line[valueStart] == 0x09 { valueStart += 1 }
            while valueEnd > valueStart, line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09 { valueEnd -= 1 }
            let value = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
            guard Self.all(value, Self.fieldValueBytes) else {
                return .failure(.badRequest("invalid character in header value"))
            }
            headers.appendLowercased(Self.lowercasedString(name), Self.text(value))
        }
        let request = HTTPRequest(method: method, target: target, version: version, headers: headers)
        if version == .http11 && headers.count("host") != 1 {
            return .failure(.badRequest("HTTP/1.1 requests need exactly one Host header"))  // RFC 9112 §3.2
        }
        return framing(of: request).map { framing in
            var expectContinue = false
            if let expect = headers["expect"] {
                expectContinue = expect.lowercased() == "100-continue"
                if !expectContinue { return .failure(HTTPError(417, "unsupported expectation")) }
            }
            if case .none = framing { expectContinue = false }
            return .success((request, framing, expectContinue && version == .http11))
        } ?? .failure(framingError(of: request))
    }

    private func framing(of request: HTTPRequest) -> Framing? {
        let lengths = request.headers.values("content-length")
        let codings = request.headers.values("transfer-encoding")
        if !codings.isEmpty {
            guard lengths.isEmpty, request.version == .http11 else { return nil }
            let all = codings.flatMap { $0.split(separator: ",") }.map { $0.trimmingOWS().lowercased() }
            guard all == ["chunked"] else { return nil }
            return .chunked
        }
        guard !lengths.isEmpty else { return Framing.none }
        if lengths.count == 1, let length = Self.decimal(lengths[0]) {
            // The common case, one plain number, without the list handling below.
            guard length <= limits.maxBodyBytes else { return nil }
            return length == 0 ? Framing.none : .length(length)
        }
        // A list or repeated fields are valid only if every value is the same (RFC 9110 §8.6).
        let values = lengths.flatMap { $0.split(separator: ",") }.map { $0.trimmingOWS() }
        guard let value = values.first, values.allSatisfy({ $0 == value }), value.allSatisfy({ $0.isASCII && $0.isNumber }),
            let length = Int(value), length <= limits.maxBodyBytes
        else { return nil }
        return length == 0 ? Framing.none : .length(length)
    }

    private func framingError(of request: HTTPRequest) -> HTTPError {
        let lengths = request.headers.values("content-length")
        let codings = request.headers.values("transfer-encoding")
        if !codings.isEmpty {
            if !lengths.isEmpty { return .badRequest("both Content-Length and Transfer-Encoding") }
            if request.version == .http10 { return .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            return HTTPError(501, "unsupported transfer coding")
        }
        let values = lengths.flatMap { $0.split(separator: ",") }.map { $0.trimmingOWS() }
        // An empty value ("Content-Length: ") leaves no values at all: malformed, not too large.
        if let first = values.first, values.allSatisfy({ $0 == first }), let length = Int(first), length > limits.maxBodyBytes,
            first.allSatisfy({ $0.isASCII && $0.isNumber })
        {
            return HTTPError(413, "request body larger than \(limits.maxBodyBytes) bytes")
        }
        return .badRequest("invalid Content-Length")
    }

    /// RFC 9112 §3: a request line over 8 KiB gets 414, however the head arrives: in one read with more
    /// headers than `maxHeaderBytes` behind it (that was 431), byte by byte, or never ending. Judged as the bytes
    /// come: 414 when the line passes 8 KiB before the head passes `maxHeaderBytes`, so a limit below 8 KiB
    /// still gets 431 first. At most one empty line can precede it (two would end the head).
    private func requestLineTooLong(_ bytes: UnsafeRawBufferPointer) -> HTTPError? {
        let limit = Self.maxRequestLineBytes
        let lineStart = bytes.count >= 2 && bytes[0] == 0x0D && bytes[1] == 0x0A ? 2 : 0
        guard lineStart + limit < bytes.count, lineStart + limit <= limits.maxHeaderBytes,
            Self.index(of: 0x0D, in: UnsafeRawBufferPointer(rebasing: bytes[lineStart...(lineStart + limit)]), from: 0) == nil
        else { return nil }
        return HTTPError(414, "request target too long")
    }
}
