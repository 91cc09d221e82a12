import StreamgateCore
import StreamgateIO
#if canImport(Glibc)
import Glibc
#endif

/// `streamgate session create|revoke`: writes and revokes session records exactly as the
/// gateway reads them (the config's key template, record format and field names), through
/// the gateway's own Redis client on a private event loop.
///
/// Secrets: the token is written to stdout by `create` and nowhere else; messages name the
/// session by its digest, and the Redis URL by its password-masked form.
public enum SessionAdmin {
    public struct CreateOptions: Sendable {
        /// nil: a fresh random token.
        public var token: String?
        public var user: String
        public var tenant: String
        public var scopes: [String]
        public var origins: [String]
        public var kind: SessionKind
        /// nil: no expiry at all (no `expires_at`, no key TTL).
        public var ttl: Duration?

        public init(token: String?, user: String, tenant: String, scopes: [String], origins: [String], kind: SessionKind, ttl: Duration?) {
            self.token = token; self.user = user; self.tenant = tenant; self.scopes = scopes
            self.origins = origins; self.kind = kind; self.ttl = ttl
        }
    }

    /// Random bytes in a generated token: 256 bits, 43 base64url characters.
    static let generatedTokenBytes = 32
    /// Generated tokens start with this: never with "-" (which a command line would read as
    /// an option), and recognisable to secret scanners.
    public static let generatedTokenPrefix = "sg_"

    /// Stores a session and prints its token on stdout (only the token, so that
    /// `TOKEN=$(streamgate session create ...)` works). 0 on success, 1 otherwise.
    public static func create(configPath: String, _ o: CreateOptions) -> Int32 {
        let say = Messages(command: "streamgate session create")
        guard let (auth, redisURL) = loadAuth(configPath: configPath, say: say) else { return 1 }

        let token: String
        if let given = o.token {
            if let reason = auth.extractor.validate(given) {
                say.error("--token: " + describe(reason, maxLength: auth.extractor.maxTokenLength))
                return 1
            }
            token = given
        } else {
            token = generatedTokenPrefix + Base64URL.encode(Crypto.randomBytes(generatedTokenBytes))
            guard token.utf8.count <= auth.extractor.maxTokenLength else {
                say.error("[auth] max_token_length (\(auth.extractor.maxTokenLength)) is shorter than a generated token (\(token.utf8.count)): give --token")
                return 1
            }
        }

        // Whole seconds: `expires_at` is unix seconds, and the key must not outlive it.
        let ttlSeconds = o.ttl.map { max(1, ($0.milliseconds + 999) / 1000) }
        let now = EventLoop.wallSeconds()
        let draft = SessionDraft(userID: o.user, tenantID: o.tenant, scopes: o.scopes, allowedOrigins: o.origins,
                                 kind: o.kind, expiresAt: ttlSeconds.map { now + $0 })
        do {
            _ = try draft.validated(mapping: auth.fields, format: auth.format)
        } catch {
            say.error(error.description)
            return 1
        }

        let digest = Crypto.sha256Digest(token)
        let key = auth.keyTemplate.render(token: token, digest: digest)
        var commands: [[String]]
        switch auth.format {
        case .hash:
            // One transaction: a reused --token must not keep fields of an older record.
            var hset = ["HSET", key]
            for (f, v) in draft.hashFields(mapping: auth.fields) { hset += [f, v] }
            commands = [["MULTI"], ["DEL", key], hset]
            if let s = ttlSeconds { commands.append(["EXPIRE", key, String(s)]) }
            commands.append(["EXEC"])
        case .json:
            commands = [["SET", key, draft.jsonText(mapping: auth.fields)] + (ttlSeconds.map { ["EX", String($0)] } ?? [])]
        }
        let run = RedisBatch.run(auth.redis, commands)
        if let failure = run.failure(commandNames: commands.map { $0[0] }, redisURL: redisURL) {
            say.error(failure)
            return 1
        }

        let shownKey = auth.keyTemplate.usesRawToken ? "a key holding the token" : key
        var details = "stored \(shownKey) (\(auth.format.rawValue)) in \(redisURL): user \"\(o.user)\", tenant \"\(o.tenant)\""
        details += o.scopes.isEmpty ? ", no scopes" : ", scopes \"\(o.scopes.joined(separator: " "))\""
        if o.kind != .session { details += ", kind \(o.kind.rawValue)" }
        if let s = ttlSeconds {
            details += ", expires \(RFC3339.format(unixSeconds: now + s)) (in \(DurationSyntax.format(.seconds(s))))"
        } else {
            details += ", never expires"
        }
        say.info(details)
        say.info("digest \(digest.hex): revoke with `streamgate session revoke -c \(configPath) TOKEN` or `--digest`")
        ProcessLimits.writeAll(fd: 1, Array((token + "\n").utf8))
        return 0
    }

    /// Deletes the session of `token` (or of a digest, when the key template needs no raw
    /// token) and publishes the digest on the revocation channel, which evicts cached copies
    /// and ends open streams on every subscribed gateway. 0 on success, 1 otherwise.
    public static func revoke(configPath: String, token: String?, digestHex: String?) -> Int32 {
        let say = Messages(command: "streamgate session revoke")
        guard let (auth, redisURL) = loadAuth(configPath: configPath, say: say) else { return 1 }

        let digest: TokenDigest
        var rawToken = ""
        if let token {
            if let reason = auth.extractor.validate(token) {
                say.error("the token: " + describe(reason, maxLength: auth.extractor.maxTokenLength))
                return 1
            }
            digest = Crypto.sha256Digest(token)
            rawToken = token
        } else if let digestHex, let d = TokenDigest(hex: digestHex) {
            guard !auth.keyTemplate.usesRawToken else {
                say.error("--digest: the key template \"\(auth.keyTemplate)\" needs the token itself; give the token")
                return 1
            }
            digest = d
        } else {
            say.error("--digest: expected 64 hex digits (the SHA-256 of the token)")
            return 1
        }

        let key = auth.keyTemplate.render(token: rawToken, digest: digest)
        // Delete first: a gateway that hears the message and looks the token up again must
        // find nothing.
        let commands = [["DEL", key], ["PUBLISH", auth.revocationChannel, digest.hex]]
        let run = RedisBatch.run(auth.redis, commands)
        if let failure = run.failure(commandNames: ["DEL", "PUBLISH"], redisURL: redisURL) {
            say.error(failure)
            return 1
        }
        var deleted = "deleted the session record"
        if case .integer(0) = run.replies[0] {
            deleted = "no session record was stored (already revoked or expired)"
        }
        var receivers: Int64 = 0
        if case .integer(let n) = run.replies[1] { receivers = n }
        say.info("\(deleted); published digest \(digest.hex) on \"\(auth.revocationChannel)\" to \(receivers) subscriber\(receivers == 1 ? "" : "s")")
        if receivers == 0 {
            say.info("no gateway is subscribed to \"\(auth.revocationChannel)\" in \(redisURL) right now; caches expire within [sessions] cache_ttl")
        }
        return 0
    }

    // MARK: - Helpers

    /// The config's auth settings (with a command timeout fit for a one-shot tool) and the
    /// password-masked Redis URL; nil after printing why not.
    private static func loadAuth(configPath: String, say: Messages) -> (AuthRuntime, String)? {
        let loaded: GatewayRunner.LoadedConfig
        switch GatewayRunner.load(configPath: configPath) {
        case .failure(let f):
            for m in f.messages { say.raw(m) }
            say.raw("\(configPath): \(f.messages.count) error\(f.messages.count == 1 ? "" : "s")")
            return nil
        case .success(let l): loaded = l
        }
        guard let auth = loaded.settings.auth, let redis = loaded.config.redis else {
            say.error("\(configPath) has no [redis] table: sessions live in the Redis it names")
            return nil
        }
        // The gateway's per-lookup timeout (250 ms by default) is for the request path; a
        // command-line write may wait for a busy server a little longer.
        return (auth.allowingCommands(toWait: .seconds(5)), redis.description)
    }

    private static func describe(_ reason: MalformedTokenReason, maxLength: Int) -> String {
        switch reason {
        case .empty: "empty"
        case .tooLong: "longer than [auth] max_token_length (\(maxLength) bytes)"
        default: "not a bearer token: use only A-Z a-z 0-9 - . _ ~ + / (and trailing =)"
        }
    }

    /// Lines on stderr, prefixed with the command.
    struct Messages {
        var command: String
        func error(_ s: String) { raw("\(command): error: \(s)") }
        func info(_ s: String) { raw("\(command): \(s)") }
        func raw(_ s: String) { ProcessLimits.writeAll(fd: 2, Array((s + "\n").utf8)) }
    }
}

/// A few Redis commands run to completion on a private event loop: the gateway's client
/// (AUTH, SELECT, every resolved address, timeouts) used from a one-shot command.
struct RedisBatch {
    /// One result per command, in order.
    var results: [RedisResult]
    /// Why the connection last failed, if it did (never contains the password).
    var connectionError: String?

    /// The successful replies (call after `failure` returned nil).
    var replies: [RedisReply] { results.map { (try? $0.get()) ?? .null } }

    static func run(_ config: RedisClientConfig, _ commands: [[String]]) -> RedisBatch {
        let loop = EventLoop()
        let client = RedisClient(loop: loop, config: config)
        var results = [RedisResult?](repeating: nil, count: commands.count)
        var remaining = commands.count
        for (i, c) in commands.enumerated() {
            // Completions never run inside `command()`, so `stop()` always finds the loop running.
            client.command(c) { r in
                results[i] = r
                remaining -= 1
                if remaining == 0 { loop.stop() }
            }
        }
        loop.run()
        let error = client.lastError
        client.close()
        return RedisBatch(results: results.map { $0 ?? .failure(.unavailable) }, connectionError: error)
    }

    /// What went wrong, as one line, or nil when every command (and, in a transaction, every
    /// queued command) succeeded.
    func failure(commandNames: [String], redisURL: String) -> String? {
        for (i, r) in results.enumerated() {
            let name = i < commandNames.count ? commandNames[i] : "command"
            switch r {
            case .failure(.unavailable):
                return "cannot reach Redis at \(redisURL): \(connectionError ?? "not connected")"
            case .failure(.timeout):
                return "Redis at \(redisURL) did not answer \(name) in time"
            case .failure(.protocolError(let why)):
                return "Redis at \(redisURL): protocol error: \(why)"
            case .success(.error(let message)):
                return "Redis refused \(name): \(message)"
            case .success(.null) where name == "EXEC":
                return "Redis aborted the transaction"
            case .success(.array(let items)) where name == "EXEC":
                for item in items {
                    if case .error(let message) = item { return "Redis refused a command of the transaction: \(message)" }
                }
            default:
                continue
            }
        }
        return nil
    }
}
