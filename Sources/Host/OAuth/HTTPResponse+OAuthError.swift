import PluginProtocol

extension HTTPResponse {
    /// An error answer with a JSON body `{"error": …, "error_description": …}`: the one way endpoints build one, so
    /// the RFC 6749 §5.2 character set holds for every error they produce.
    static func error(_ status: Int, code: String?, description: String, headers: [(String, String)] = []) -> HTTPResponse {
        var members: [String: JSONValue] = ["error_description": .string(ErrorDescription.sanitized(description))]
        if let code { members["error"] = .string(code) }
        return .json(status, .object(members), headers: headers)
    }
}
