import PluginProtocol

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
/// check alike.
final class DecisionCache<Params: JSONCodable & Hashable, Answer: JSONCodable & ReusableAnswer>: Sendable {
    private let method: Method<Params, Answer>
    private let answers: ExpiringCache<Params, Answer>

    init(_ method: Method<Params, Answer>, maxEntries: Int = 50_000) {
        self.method = method
        answers = ExpiringCache(maxEntries: maxEntries)
    }

    /// The cached answer for `params`, or the policy's (kept for its `cacheTtlMs`). Failures are never kept.
    func answer(_ params: Params, from policy: any PluginEndpoint,
                completion: @escaping @Sendable (Result<Answer, PluginCallError>) -> Void)
    {
        if let cached = answers.value(for: params) { return completion(.success(cached)) }
        policy.call(method, params) { [answers] outcome in
            if case .success(let answer) = outcome {
                answers.store(answer, for: params, ttl: .milliseconds(answer.cacheTTLMilliseconds))
            }
            completion(outcome)
        }
    }

    func removeAll() { answers.removeAll() }
}
