import Foundation
import Glibc
import JOSE
import PluginProtocol

/// `gatehouse keys list|rotate|withdraw`: the token signing keys in the data directory. A running host picks up
/// a change within a second; after a rotation tokens signed with older keys keep verifying until they expire,
/// after a withdrawal those signed with the withdrawn key stop verifying at once.
enum KeysCommand {
    static let usage = "usage: gatehouse keys list | gatehouse keys rotate [--algorithm RS256|ES256|EdDSA|HS256] "
        + "| gatehouse keys withdraw KID [--force] [--config PATH] [--data DIR]"

    static func run(_ raw: [String]) -> CommandLineTool.Exit {
        guard let action = raw.first, ["list", "rotate", "withdraw"].contains(action) else {
            CommandLineTool.printError(usage)
            return .usage
        }
        let options: Set<String> = action == "rotate" ? ["config", "data", "algorithm"] : ["config", "data"]
        let config: HostConfig
        let arguments: CommandLineArguments
        switch CommandLineTool.prepare(Array(raw.dropFirst()), valueOptions: options, flagOptions: action == "withdraw" ? ["force"] : [],
                                       positionals: action == "withdraw" ? 1 : 0, usage: "gatehouse keys \(action)") {
        case .failure(let error):
            CommandLineTool.printError(error.message)
            return error.exit
        case .success(let (parsed, loaded)):
            arguments = parsed
            config = loaded
        }
        var chosen: SignatureAlgorithm?
        if let name = arguments.value("algorithm") {
            guard let algorithm = SignatureAlgorithm(rawValue: name) else {
                CommandLineTool.printError("--algorithm must be RS256, ES256, EdDSA or HS256")
                return .usage
            }
            chosen = algorithm
        }
        let withdrawing = arguments.positionals.first
        if action == "withdraw", withdrawing == nil {
            CommandLineTool.printError("usage: gatehouse keys withdraw KID [--force] (`gatehouse keys list` shows the kids)")
            return .usage
        }
        let now = Int64(time(nil))
        let policy = config.keyPolicy
        var refused = false
        do {
            if mkdir(config.dataDirectory, 0o700) != 0 && errno != EEXIST {
                throw SigningKeyRing.Failure(description: "cannot create \(config.dataDirectory): \(String(cString: strerror(errno)))")
            }
            var outcome: SigningKeyRing.RotationOutcome?
            var withdrawal: SigningKeyRing.WithdrawalOutcome?
            var elsewhere = false
            var algorithm = chosen ?? config.signingAlgorithm
            let ring = try SigningKeyFile.update(directory: config.dataDirectory, now: now, algorithm: algorithm) {
                ring throws(SigningKeyRing.Failure) in
                if let withdrawing {
                    // Not this host's key: perhaps another host's, in the store (below, outside the key file's lock).
                    if ring.key(id: withdrawing) == nil, !ring.withdrawn.contains(where: { $0.id == withdrawing }) {
                        elsewhere = true
                        return nil
                    }
                    refused = true  // Until it succeeds, a failure here is the ring refusing (exit 1), not an I/O error.
                    let (changed, result) = try ring.withdrawing(withdrawing, now: now, policy: policy, force: arguments.flag("force"))
                    refused = false
                    withdrawal = result
                    return changed
                }
                guard action == "rotate" else { return nil }
                // Without --algorithm the ring keeps its algorithm (or the switch already scheduled), whatever
                // config this command was given: a plain rotation never changes what resource servers verify.
                let pending = ring.keys.first { $0.activateAt != nil && ring.state(of: $0) == .published }
                algorithm = chosen ?? pending?.algorithm ?? ring.current.algorithm
                let (rotated, result) = try ring.rotated(to: algorithm, now: now, policy: policy)
                outcome = result
                return rotated
            }
            if let withdrawing, elsewhere { return withdrawPublished(withdrawing, config: config, now: now) }
            switch outcome {
            case .switched(let id)?: print("New signing key \(id) is now current.")
            case .scheduled(let id, let at)?:
                print("Signing key \(id) (\(algorithm.rawValue)) is published and becomes current at \(ClientOutput.date(at)),")
                print("one JWK Set max-age (\(policy.jwksMaxAge) s) after publication; the running host switches then.")
            case nil: break
            }
            if let withdrawing, let withdrawal {
                print("Signing key \(withdrawing) is withdrawn: the running host refuses its tokens within a second, and other hosts")
                print("sharing the store within seconds. Resource servers that cached the JWK Set accept them until it expires")
                print("(max-age \(policy.jwksMaxAge) s): see Docs/operations.md, \"A signing key is compromised\".")
                if case .switched(let id) = withdrawal { print("Signing key \(id) is now current.") }
            }
            print(render(ring, policy: policy, now: now))
            return .success
        } catch {
            CommandLineTool.printError("\(error)")
            return refused ? .refused : .unavailable
        }
    }

    /// One line per key: state, kid, algorithm, and the times of its lifecycle.
    static func render(_ ring: SigningKeyRing, policy: SigningKeyRing.Policy, now: Int64) -> String {
        let order: [SigningKeyRing.State: Int] = [.active: 0, .published: 1, .retiring: 2]
        let keys = ring.keys.sorted { (order[ring.state(of: $0)] ?? 3, $0.createdAt) < (order[ring.state(of: $1)] ?? 3, $1.createdAt) }
        var lines = ["STATE      KID           ALG    TIMES"]
        for key in keys {
            let state = ring.state(of: key)
            var times = ["created \(ClientOutput.date(key.createdAt))"]
            if let at = key.activatedAt { times.append("active since \(ClientOutput.date(at))") }
            if let at = key.activateAt { times.append("becomes active \(ClientOutput.date(at))") }
            if state == .active, let period = policy.rotationPeriod, let since = key.activatedAt {
                times.append("rotates \(ClientOutput.date(since + period))")
            }
            if let at = key.retiredAt {
                times.append("retired \(ClientOutput.date(at)), unpublished after \(ClientOutput.date(at + policy.maxTokenLifetime))")
            }
            let name = state.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
            let id = key.id.padding(toLength: 13, withPad: " ", startingAt: 0)
            let alg = key.algorithm.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
            lines.append("\(name) \(id) \(alg) \(times.joined(separator: ", "))")
        }
        // Listed until no token they signed could still be unexpired; none of those tokens verifies.
        for entry in ring.withdrawn.sorted(by: { $0.withdrawnAt < $1.withdrawnAt }) {
            let id = entry.id.padding(toLength: 13, withPad: " ", startingAt: 0)
            let alg = entry.algorithm.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
            lines.append("withdrawn  \(id) \(alg) withdrawn \(ClientOutput.date(entry.withdrawnAt)), its tokens are refused")
        }
        return lines.joined(separator: "\n")
    }
}
