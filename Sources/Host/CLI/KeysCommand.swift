import Foundation
import Glibc
import PluginProtocol

/// `gatehouse keys list|rotate`: the token signing keys in the data directory. A running host picks up a
/// rotation within a second; tokens signed with older keys keep verifying until they expire.
enum KeysCommand {
    static func run(_ raw: [String]) -> CommandLineTool.Exit {
        guard let action = raw.first, ["list", "rotate"].contains(action) else {
            CommandLineTool.printError("usage: gatehouse keys list | gatehouse keys rotate [--config PATH] [--data DIR]")
            return .usage
        }
        let config: HostConfig
        switch CommandLineTool.prepare(Array(raw.dropFirst()), valueOptions: ["config", "data"], usage: "gatehouse keys \(action)") {
        case .failure(let error):
            CommandLineTool.printError(error.message)
            return error.exit
        case .success(let (_, loaded)): config = loaded
        }
        let now = Int64(time(nil))
        do {
            if mkdir(config.dataDirectory, 0o700) != 0 && errno != EEXIST {
                throw SigningKeyRing.Failure(description: "cannot create \(config.dataDirectory): \(String(cString: strerror(errno)))")
            }
            var ring = try SigningKeyRing.loadOrCreate(directory: config.dataDirectory, now: now)
            if action == "rotate" {
                let (rotated, retired) = try ring.rotated(now: now, maxTokenLifetime: config.maxTokenLifetime)
                try rotated.save(to: SigningKeyRing.path(in: config.dataDirectory))
                ring = rotated
                print("New signing key \(rotated.currentID) is now current.")
                if !retired.isEmpty { print("Retired (all their tokens have expired): \(retired.joined(separator: ", "))") }
            }
            for key in ring.keys.sorted(by: { $0.createdAt < $1.createdAt }) {
                print("\(key.id == ring.currentID ? "*" : " ") \(key.id)  created \(ClientOutput.date(key.createdAt))")
            }
            return .success
        } catch {
            CommandLineTool.printError("\(error)")
            return .unavailable
        }
    }
}
