/// Strict reading of a plugin's own config (`ConfigReader`), kept beside the method it belongs to so the
/// JSON layer knows nothing of plugin methods.
extension InitializeParams {
    /// The plugin's own `config`, read strictly: `read` asks for every key the plugin knows, and any other
    /// key fails `initialize` with `invalidParams` naming it as the operator wrote it
    /// (`plugins.store.config.pth`), so the host refuses to start instead of running on defaults.
    public func readConfig<T>(_ read: (ConfigReader) throws(JSONShapeError) -> T) throws(RPCError) -> T {
        do {
            let reader = try ConfigReader(config.isNull ? .object([:]) : config,
                                          path: "plugins.\(pluginName.isEmpty ? "plugin" : pluginName).config")
            let value = try read(reader)
            try reader.finish()
            return value
        } catch {
            throw RPCError(.invalidParams, error.message)
        }
    }
}
