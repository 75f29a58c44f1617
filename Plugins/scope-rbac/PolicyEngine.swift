import PluginProtocol

/// scope-rbac's decisions, each with a reason a person can act on. Pure: no I/O, no clock.
struct PolicyEngine: Sendable {
    let policy: PolicyDocument

    private func role(named name: String) -> PolicyDocument.Role? {
        policy.roles[name] ?? policy.defaultRole.flatMap { policy.roles[$0] }
    }

    private func roleLabel(_ name: String) -> String { name.isEmpty ? "(none)" : name }

    /// RFC 6749 §3.3: without a requested scope, the client's defaults; a scope the client may not have
    /// fails the whole request (`invalid_scope`), naming the scope.
    func grant(_ params: GrantParams) -> GrantResult {
        let client = params.client
        guard let role = role(named: client.role) else {
            return GrantResult(granted: false, scopes: [], reason: "role '\(roleLabel(client.role))' is not defined in the policy")
        }
        let requested = params.requestedScopes ?? client.defaultScopes
        guard !requested.isEmpty else {
            return GrantResult(granted: false, scopes: [],
                               reason: "no scope requested and client '\(client.clientID)' has no default scopes")
        }
        var granted: [String] = []
        for scope in requested where !granted.contains(scope) {
            guard client.allowedScopes.contains(scope) else {
                return GrantResult(granted: false, scopes: [], reason: "scope '\(scope)' is not allowed for client '\(client.clientID)'")
            }
            guard role.scopes.contains(where: { $0.matches(scope) }) else {
                return GrantResult(granted: false, scopes: [], reason: "role '\(role.name)' may not hold scope '\(scope)'")
            }
            granted.append(scope)
        }
        return GrantResult(granted: true, scopes: granted, reason: "granted \(granted.joined(separator: " ")) under role '\(role.name)'",
                           cacheTTLMilliseconds: policy.cacheTTLMilliseconds)
    }

    /// Deny by default: a request is allowed only by a resource that matches its method and normalized
    /// path and whose required scopes the token holds (and the client's role still permits).
    func authorize(_ params: AuthorizeParams) -> AuthorizeResult {
        let ttl = policy.cacheTTLMilliseconds
        let method = params.request.method.uppercased()
        guard let segments = RequestPath.normalize(params.request.path) else {
            return AuthorizeResult(allowed: false, reason: "path '\(params.request.path.prefix(200))' is not in canonical form", cacheTTLMilliseconds: ttl)
        }
        guard let role = role(named: params.role) else {
            return AuthorizeResult(allowed: false, reason: "role '\(roleLabel(params.role))' is not defined in the policy",
                                   cacheTTLMilliseconds: ttl)
        }
        // Scopes the role no longer permits stop counting at once, without waiting for tokens to expire.
        let effective = params.scopes.filter { scope in role.scopes.contains { $0.matches(scope) } }
        let matching = policy.resources.filter { resource in
            (resource.methods.isEmpty || resource.methods.contains(method)) && resource.path.matches(segments)
        }
        guard !matching.isEmpty else {
            let pathOnly = policy.resources.contains { $0.path.matches(segments) }
            let reason = pathOnly ? "method \(method) is not allowed on \(params.request.path)"
                                  : "no resource in the policy matches \(method) \(params.request.path)"
            return AuthorizeResult(allowed: false, reason: reason, cacheTTLMilliseconds: ttl)
        }
        var needed: [String] = []
        for resource in matching {
            let required = resource.required(for: method)
            if let held = effective.first(where: { scope in required.contains { ScopePattern(scope)?.satisfies($0) ?? false } }) {
                return AuthorizeResult(allowed: true, reason: "scope '\(held)' allows \(method) on resource '\(resource.name)'",
                                       cacheTTLMilliseconds: ttl)
            }
            needed += required.filter { !needed.contains($0) }
        }
        return AuthorizeResult(allowed: false, reason: "\(method) on resource '\(matching[0].name)' needs scope \(needed.joined(separator: " or "))",
                               requiredScopes: needed, cacheTTLMilliseconds: ttl)
    }
}
