/// The usage text of each command and action, printed by `--help` (exit 0) and after a usage error (exit 2).
enum CommandUsage {
    static let configFlags = """
          --config PATH       the config file `gatehouse serve` uses (Docs/configuration.md), to reach the same store
          --data DIR          the data directory (default ./gatehouse-data); --config and --data may also go
                              before the command: gatehouse --config /etc/gatehouse.json client list
        """

    static let client = """
        usage: gatehouse client <action> [options]

        Actions:
          add            create a client; prints its secret once
          list           list clients
          show ID        show one client
          update ID      change name, scopes, role or token lifetime
          rotate-secret ID
                         new secret; the old one keeps working for --grace seconds
          disable ID     refuse its tokens and new tokens at once
          enable ID      undo disable
          remove ID      delete it; its tokens stop working

        `gatehouse client <action> --help` shows an action's options.
        """

    static let clientActions: [String: String] = [
        "add": """
            usage: gatehouse client add --name NAME --scope "a b" [--id ID] [--default-scope "a"] [--role ROLE]
                                        [--ttl SECONDS] [--secret-stdin] [--json]

              --name NAME            a label for people (required, not empty)
              --scope "a b"          scopes the client may be granted (required: without one it can never get a token)
              --id ID                the client_id (default: from the name plus 6 random characters)
              --default-scope "a"    scopes granted when a token request names none (default: all of --scope)
              --role ROLE            the policy role (scope-rbac: Docs/policy.md)
              --ttl SECONDS          its tokens' lifetime (default: token.default_lifetime_seconds)
              --secret-stdin         read the secret from standard input (not echoed) instead of generating one
              --public-key FILE      a secretless client: its public key, PEM or JWK (RSA >= 2048, P-256, Ed25519);
                                     it signs JWT assertions (private_key_jwt, jwt-bearer grant; Docs/secretless-clients.md)
              --key-id KID           the key's kid (default: the JWK's kid, else its RFC 7638 thumbprint)
              --jwks-uri URL         a secretless client whose keys the server fetches from URL, a JWK Set (https;
                                     http only to 127.0.0.1, ::1 or localhost); instead of --public-key
              --json                 print the client as JSON (snake_case keys)
            """,
        "list": "usage: gatehouse client list [--json]",
        "show": "usage: gatehouse client show ID [--json]",
        "update": """
            usage: gatehouse client update ID [--name N] [--scope "a b"] [--default-scope "a"] [--role R]
                                              [--ttl SECONDS] [--json]
                   gatehouse client update ID [--add-public-key FILE [--key-id KID]] [--remove-key KID] [--json]
                   gatehouse client update ID (--jwks-uri URL | --remove-jwks-uri [--add-public-key FILE]) [--json]

              --ttl 0 returns the client to the server default lifetime.
              Key rotation: --add-public-key the new key, move the client to it, then --remove-key the old one;
              both work in between. A removed key stops working at once.
              --jwks-uri URL replaces the client's jwks uri (or its registered keys); --remove-jwks-uri drops it,
              and with --add-public-key changes the client over to that key. Keys at a URL rotate by publishing
              them there (Docs/secretless-clients.md, "Keys at a URL").
            """,
        "rotate-secret": """
            usage: gatehouse client rotate-secret ID [--grace SECONDS] [--json]

              --grace SECONDS        how long the previous secret keeps working (default 0: stops at once)
            """,
        "disable": "usage: gatehouse client disable ID",
        "enable": "usage: gatehouse client enable ID",
        "remove": "usage: gatehouse client remove ID",
    ]

    static func clientAction(_ action: String) -> String {
        (clientActions[action] ?? client) + "\n\n" + configFlags
    }

    static let policyCheck = """
        usage: gatehouse policy check (--client ID | --scope "a b" [--role R]) --request "METHOD /path"
                                      [--from ADDRESS] [--json]

        Asks the policy plugin of the config what the server would answer, and why. Exits 0 on ALLOW,
        1 on DENY. With --client, the client is read from the store: a disabled or missing client is DENY,
        as the server would answer.

          --client ID            a client in the store (its role and scopes)
          --scope "a b"          token scopes to check instead of a stored client
          --role R               the role to check with (default: the client's)
          --request "GET /path"  the request to check
          --from ADDRESS         the request's source address, for policies that decide by network
          --json                 print the answer as JSON
        """ + "\n\n" + configFlags
}
