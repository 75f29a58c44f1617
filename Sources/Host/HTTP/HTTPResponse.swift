import JSON

/// A complete response. `Content-Length` and `Date` are added when it is written; handlers set the rest.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers.map { (name: $0.0, value: $0.1) }
        self.body = body
    }

    /// A JSON body with `Content-Type: application/json`.
    public static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers,
                     body: JSONWriter.bytes(value))
    }

    /// A JSON body already written (`JSONObjectWriter`), for responses on hot paths.
    public static func json(_ status: Int, body: [UInt8], headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8")
        -> HTTPResponse
    {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    /// The refusal the server sends for a request it could not parse; the connection closes after it.
    static func error(_ error: HTTPError) -> HTTPResponse {
        .json(error.status, ["error": .string(reasonPhrase(error.status).lowercased().replacingSpaces()),
                             "error_description": .string(error.message)])
    }

    /// Serializes status line, headers and body; `close` adds `Connection: close`.
    func write(into out: inout [UInt8], version: HTTPVersion, date: String, close: Bool, headOnly: Bool = false) {
        out.reserveCapacity(out.count + 256 + (headOnly ? 0 : body.count))
        out.append(contentsOf: version.text.utf8)
        out.append(0x20)
        JSONWriter.writeInteger(Int64(status), into: &out)
        out.append(0x20)
        out.append(contentsOf: Self.reasonPhrase(status).utf8)
        Self.appendCRLF(to: &out)
        for (name, value) in headers { Self.appendHeader(name, value, to: &out) }
        Self.appendHeader("Date", date, to: &out)
        out.append(contentsOf: "Content-Length: ".utf8)
        JSONWriter.writeInteger(Int64(body.count), into: &out)
        Self.appendCRLF(to: &out)
        if close { Self.appendHeader("Connection", "close", to: &out) }
        Self.appendCRLF(to: &out)
        if !headOnly { out.append(contentsOf: body) }
    }

    private static func appendHeader(_ name: String, _ value: String, to out: inout [UInt8]) {
        out.append(contentsOf: name.utf8)
        out.append(UInt8(ascii: ":"))
        out.append(0x20)
        out.append(contentsOf: value.utf8)
        appendCRLF(to: &out)
    }

    /// Byte by byte: cheaper than appending a two-byte array literal.
    private static func appendCRLF(to out: inout [UInt8]) {
        out.append(0x0D)
        out.append(0x0A)
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }
}

extension String {
    fileprivate func replacingSpaces() -> String { String(map { $0 == " " ? "_" : $0 }) }
}
