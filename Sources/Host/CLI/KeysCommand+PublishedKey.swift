import PluginProtocol

/// `gatehouse keys withdraw KID` for a key that is not in this host's ring but in the store: another host's,
/// typically one that is gone (decommissioned, its data directory with it) and whose key leaked. Its own host
/// cannot withdraw it any more, so this one does it for it: the key is remembered as withdrawn here, and told
/// to the store with a `notAfter` in the past, the way a host tells the store of its own withdrawn keys, so the
/// store deletes it and every host sharing the store drops it from its union.
extension KeysCommand {
    static func withdrawPublished(_ id: String, config: HostConfig, now: Int64) -> CommandLineTool.Exit {
        let outcome = PluginSession.open(config.store).flatMap { store -> Result<SigningKeyRing, CLIError> in
            defer { store.close() }
            return store.call(HostSigningKeys.list, Empty())
                .mapError { CLIError($0.exit, "no key \(id) in this host's key ring, and the store's keys cannot be read: \($0.message)") }
                .flatMap { published -> Result<SigningKeyRing, CLIError> in
                    guard let key = published.keys.first(where: { $0.keyID == id }) else {
                        return .failure(CLIError(.refused, "no key \(id) in this host's key ring nor in the store "
                            + "(`gatehouse keys list` shows this host's keys, the JWK Set every host's)"))
                    }
                    return remember(key, config: config, now: now).flatMap { ring in
                        guard let entry = ring.withdrawn.first(where: { $0.id == id }) else { return .success(ring) }
                        // Told here as well as by this host's next tick, for when no host runs from this directory.
                        return store.call(HostSigningKeys.publish, PublishSigningKeysParams(keys: [entry.publication(now: now)]))
                            .map { _ in ring }
                    }
                }
        }
        switch outcome {
        case .failure(let error):
            CommandLineTool.printError(error.message)
            return error.exit
        case .success(let ring):
            let policy = config.keyPolicy
            print("Signing key \(id) is withdrawn: it was another host's key, and the store no longer holds it. Every host")
            print("sharing the store refuses its tokens within seconds. Resource servers that cached the JWK Set accept them")
            print("until it expires (max-age \(policy.jwksMaxAge) s): see Docs/operations.md, \"A signing key is compromised\".")
            print("If the host that made the key still runs, it publishes the key again: withdraw it there.")
            print(render(ring, policy: policy, now: now))
            return .success
        }
    }

    /// This host's ring with `key` remembered as withdrawn, written under the key file's lock.
    private static func remember(_ key: HostPublicKey, config: HostConfig, now: Int64) -> Result<SigningKeyRing, CLIError> {
        var refused = false
        do {
            let ring = try SigningKeyFile.update(directory: config.dataDirectory, now: now, algorithm: config.signingAlgorithm) {
                ring throws(SigningKeyRing.Failure) in
                refused = true  // Until it succeeds, a failure here is the ring refusing (exit 1), not an I/O error.
                let changed = try ring.withdrawingPublished(key, now: now)
                refused = false
                return changed
            }
            return .success(ring)
        } catch {
            return .failure(CLIError(refused ? .refused : .unavailable, "\(error)"))
        }
    }
}
