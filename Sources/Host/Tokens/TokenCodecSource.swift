import Glibc
import PluginProtocol
import Synchronization

/// The token codec in force. The signing-key file is re-read when it changes (`gatehouse keys rotate`), so
/// a rotation reaches a running host without a restart; a broken file keeps the last good keys.
public final class TokenCodecSource: Sendable {
    private let state: Mutex<(codec: TokenCodec, identity: [Int64]?)>
    private let directory: String
    private let logger: Logger

    init(codec: TokenCodec, directory: String, logger: Logger) {
        self.directory = directory
        self.logger = logger
        state = Mutex((codec, Self.identity(directory)))
    }

    var current: TokenCodec { state.withLock { $0.codec } }

    /// Reloads the keys if the file changed; called periodically.
    func reloadIfChanged() {
        let identity = Self.identity(directory)
        guard state.withLock({ $0.identity != identity }) else { return }
        do {
            let keys = try SigningKeyRing.loadOrCreate(directory: directory, now: Int64(time(nil)))
            state.withLock { state in
                state.codec = TokenCodec(keys: keys, issuer: state.codec.issuer, audience: state.codec.audience)
                state.identity = identity
            }
            logger.info("signing keys reloaded", ["tokens.current_kid": .string(keys.currentID), "tokens.keys": .int(Int64(keys.keys.count))])
        } catch {
            state.withLock { $0.identity = identity }
            logger.error("signing key file is invalid; keeping the keys in use", ["error": .string(error.description)])
        }
    }

    private static func identity(_ directory: String) -> [Int64]? {
        var info = stat()
        guard stat(directory + "/signing-keys.json", &info) == 0 else { return nil }
        return [Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)]
    }
}
