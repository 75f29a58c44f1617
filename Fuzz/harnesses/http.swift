// libFuzzer harness: the HTTP request parser (Sources/Host/HTTP/HTTPRequestParser.swift).
// Property: feeding the input all at once and one byte at a time gives the same requests and errors.

@testable import Host

private func outcomes(_ bytes: [UInt8], chunk: Int) -> [String] {
    var limits = HTTPLimits()
    limits.maxHeaderBytes = 2048
    limits.maxBodyBytes = 1024
    var parser = HTTPRequestParser(limits: limits)
    var buffer: [UInt8] = []
    var start = 0
    var events: [String] = []
    var offset = 0
    while offset < bytes.count {
        buffer += bytes[offset..<min(bytes.count, offset + chunk)]
        offset += chunk
        while true {
            let (consumed, event) = buffer.withUnsafeBytes { raw in parser.parse(UnsafeRawBufferPointer(rebasing: raw[start...])) }
            precondition(consumed >= 0 && start + consumed <= buffer.count, "consumed past the input")
            start += consumed
            switch event {
            case .needMore: break
            case .continueNeeded: events.append("100"); continue
            case .request(let request): events.append("\(request.method) \(request.target) \(request.body.count)"); continue
            case .failure(let error): events.append("E\(error.status)"); return events
            }
            break
        }
    }
    return events
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = outcomes(bytes, chunk: max(1, bytes.count))
    let single = outcomes(bytes, chunk: 1)
    precondition(whole == single, "chunking changed the outcome: \(whole) vs \(single)")
    return 0
}
