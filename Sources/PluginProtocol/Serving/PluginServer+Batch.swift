/// Batch methods (`PluginServer.registerBatch`): the requests of one run and the handler that answers them.
extension PluginServer {
    /// Takes raw params, answers each: always as many results as params, in their order.
    typealias BatchHandler = ([JSONValue]) -> [Result<JSONValue, RPCError>]

    struct PendingBatch {
        let method: String
        let handler: BatchHandler
        var requests: [(id: RPCID, params: JSONValue)] = []

        init(method: String, handler: @escaping BatchHandler) {
            self.method = method
            self.handler = handler
        }

        // Closures, not key paths: in generic code a key path is built at run time on every call (perf under load: key path
        // instantiation was about a tenth of postgres-store's time).
        func run() -> [Result<JSONValue, RPCError>] { handler(requests.map { $0.params }) }
    }

    /// Wraps a typed batch handler: params that do not decode are answered on their own, the rest go to
    /// `handler` together; a throw, or a handler that answers the wrong number of requests, fails them all.
    static func batchHandler<P, R>(_ method: Method<P, R>, _ handler: @escaping ([P]) throws -> [Result<R, RPCError>])
        -> BatchHandler
    {
        { rawParams in
            var outcomes = [Result<JSONValue, RPCError>?](repeating: nil, count: rawParams.count)
            var decoded: [P] = []
            var positions: [Int] = []
            for (position, raw) in rawParams.enumerated() {
                do {
                    decoded.append(try decode(P.self, raw))
                    positions.append(position)
                } catch {
                    outcomes[position] = .failure(rpcError(from: error, method: method.name))
                }
            }
            if !decoded.isEmpty {
                let answered: [Result<JSONValue, RPCError>]
                do {
                    let results = try handler(decoded)
                    if results.count == decoded.count {
                        answered = results.map { $0.map { $0.json } }
                    } else {
                        PluginLog.error("batch handler answered the wrong number of requests",
                                        ["rpc.method": .string(method.name), "batch.size": .int(Int64(decoded.count)),
                                         "batch.answers": .int(Int64(results.count))])
                        answered = Array(repeating: .failure(RPCError(.internalError, "internal error in '\(method.name)'")),
                                         count: decoded.count)
                    }
                } catch {
                    answered = Array(repeating: .failure(rpcError(from: error, method: method.name)), count: decoded.count)
                }
                for (position, outcome) in zip(positions, answered) { outcomes[position] = outcome }
            }
            return outcomes.map { $0 ?? .failure(RPCError(.internalError, "internal error in '\(method.name)'")) }
        }
    }
}
