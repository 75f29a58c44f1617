/// The rules every client-authenticated OAuth endpoint applies to a request before anything else
/// (token RFC 6749 §3.2, revocation RFC 7009 §2.1, introspection RFC 7662 §2.1).
enum OAuthForm {
    /// The form parameters, or the `invalid_request` refusal. Endpoints check their own parameters next and
    /// extract the client's credentials (`credentials(of:form:)`) last, so shape errors come before auth ones.
    static func parse(_ request: HTTPRequest) -> Result<OAuthParameters, OAuthError> {
        // §2.3.1: credentials MUST NOT be in the request URI (nor, sensibly, any other parameter).
        if let query = request.query, ["client_secret", "client_id", "grant_type", "token", "client_assertion", "assertion"].contains(where: {
            FormURLEncodingQuery.contains(query, $0)
        }) {
            return .failure(.invalidRequest("parameters must be in the request body, not the URL"))
        }
        // RFC 9110 §8.3.1: the media type is case-insensitive; parameters (`; charset=…`) may follow.
        guard let contentType = request.headers["content-type"], ASCII.hasMediaType(contentType, "application/x-www-form-urlencoded") else {
            return .failure(.invalidRequest("the body must be application/x-www-form-urlencoded"))
        }
        let pairs: [(name: String, value: String)]
        do {
            pairs = try FormURLEncoding.decode(request.body, maxPairs: OAuthParameters.maxCount)
        } catch {
            return .failure(.invalidRequest(error.message))
        }
        do {
            // §3.2: "Request and response parameters MUST NOT be included more than once."
            return .success(try OAuthParameters(pairs))
        } catch {
            return .failure(.invalidRequest("parameter \(ErrorDescription.quoting(error.name)) appears more than once"))
        }
    }

    /// The `token` parameter and the client's credentials: what revocation (RFC 7009 §2.1) and introspection
    /// (RFC 7662 §2.1) both take.
    static func tokenAndCredentials(_ request: HTTPRequest) -> Result<(token: String, credentials: ClientCredentials), OAuthError> {
        parse(request).flatMap { form in
            guard let token = form["token"], !token.isEmpty else { return .failure(.invalidRequest("missing token")) }
            return credentials(of: request, form: form).map { (token, $0) }
        }
    }

    static func credentials(of request: HTTPRequest, form: OAuthParameters) -> Result<ClientCredentials, OAuthError> {
        ClientCredentials.extract(authorization: request.headers.values("authorization"), form: form)
    }
}
