import JSON

extension HTTPLimits {
    /// Reads the `http` object; its caller's `finish()` refuses keys not read here.
    init(config reader: ConfigReader) throws(JSONShapeError) {
        self.init()
        threads = Int(try reader.optionalInt("threads") ?? 0)
        maxConnections = Int(try reader.optionalInt("max_connections") ?? Int64(maxConnections))
        maxHeaderBytes = Int(try reader.optionalInt("max_header_bytes") ?? Int64(maxHeaderBytes))
        maxBodyBytes = Int(try reader.optionalInt("max_body_bytes") ?? Int64(maxBodyBytes))
        if let ms = try reader.optionalInt("header_timeout_ms") { headerTimeout = .milliseconds(ms) }
        if let ms = try reader.optionalInt("idle_timeout_ms") { idleTimeout = .milliseconds(ms) }
        maxConnectionsPerAddress = Int(try reader.optionalInt("max_connections_per_address") ?? Int64(maxConnectionsPerAddress))
        maxOutputBytes = Int(try reader.optionalInt("max_output_bytes") ?? Int64(maxOutputBytes))
        if let ms = try reader.optionalInt("write_timeout_ms") { writeTimeout = .milliseconds(ms) }
        guard (0...256).contains(threads), (1...1_000_000).contains(maxConnections),
            (1024...1_048_576).contains(maxHeaderBytes), (0...16_777_216).contains(maxBodyBytes),
            (0...1_000_000).contains(maxConnectionsPerAddress), (4096...16_777_216).contains(maxOutputBytes),
            writeTimeout > .zero
        else { throw JSONShapeError("http limits out of range (see Docs/configuration.md)") }
    }
}
