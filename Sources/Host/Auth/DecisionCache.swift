import PluginProtocol
import Synchronization

/// A policy answer that says how long the host may reuse it (`cacheTtlMs`).
protocol ReusableAnswer: Sendable {
    var cacheTTLMilliseconds: Int64 { get }
}

extension GrantResult: ReusableAnswer {}
extension AuthorizeResult: ReusableAnswer {}

/// Policy answers reused for as long as the policy plugin allowed (`cacheTtlMs`), keyed by everything the
/// answer depends on: for `authorize` the client, role, token scopes and request; for `grant` the client's
/// id, role, allowed and default scopes and the requested scopes. `answer` is the one place where "ask the
/// cache, else ask the policy and keep its answer" is spelled out, for the token endpoint and the bearer
/// check alike. An answer asked for before `removeAll` (the policy's rules changed) and delivered after it
/// serves its request but is not kept: it may have been decided under the old rules.
final class DecisionCache<Params: JSONCodable & Hashable, Answer: JSONCodable & ReusableAnswer>: Sendable {
    private let method: Method<Params, Answer>
    private let answers: ExpiringCache<Params, Answer>
    private let removals = Atomic<UInt64>(0)

    init(_ method: Method<Params, Answer>, maxEntries: Int = 50_000) {
        self.method = method
        answers = ExpiringCache(maxEntries: maxEntries)
    }

    /// The cached answer for `params`, or the policy's (kept for its `cacheTtlMs`). Failures are never kept.
    func answer(_ params: Params, from policy: any PluginEndpoint,
                completion: @escaping @Sendable (Result<Answer, PluginCallError>) -> Void)
    {
        if let cached = answers.value(for: params) { return completion(.success(cached)) }
        let asked = removals.load(ordering: .acquiring)
        policy.call(method, params) { [self] outcome in
            if case .success(let answer) = outcome, removals.load(ordering: .acquiring) == asked {
                answers.store(answer, for: params, ttl: .milliseconds(answer.cacheTTLMilliseconds))
            }
            completion(outcome)
        }
    }

    func removeAll() {
        removals.add(1, ordering: .releasing)
        answers.removeAll()
    }
}
