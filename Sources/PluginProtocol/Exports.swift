// The JSON layer is part of the wire protocol: a plugin that imports PluginProtocol gets JSONValue, the parser
// and the writer with it.
@_exported import JSON
