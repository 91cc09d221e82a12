import StreamgateCore
import StreamgateIO

/// Authentication, resolved for the data path. Present only when `[redis]` is configured.
///
/// The session and token settings are the decoded values themselves; only the Redis client's
/// settings are derived (they are StreamgateIO's type, which Core cannot build), in one place:
/// `RedisClientConfig(_:)`.
///
/// A final class, immutable: every authenticated request reads it, and as a struct of some
/// twenty strings each read copied (and retained, then released) all of them.
public final class AuthRuntime: Sendable, Equatable {
    public let redis: RedisClientConfig
    /// `[sessions]` as decoded: key, format, cache, revocation, recheck, field names.
    public let sessions: SessionsConfig
    /// Parsed from `sessions.key` at load.
    public let keyTemplate: SessionKeyTemplate
    /// `[auth]`'s token settings.
    public let extractor: TokenExtractor

    /// Fails on a `[sessions] key` template the store cannot render.
    init(redis: RedisConfig, sessions: SessionsConfig, tokens: TokenExtractor) throws(SessionKeyTemplate.ValidationError) {
        self.redis = RedisClientConfig(redis)
        self.sessions = sessions
        self.keyTemplate = try SessionKeyTemplate(sessions.key)
        self.extractor = tokens
    }

    private init(redis: RedisClientConfig, sessions: SessionsConfig, keyTemplate: SessionKeyTemplate, extractor: TokenExtractor) {
        self.redis = redis
        self.sessions = sessions
        self.keyTemplate = keyTemplate
        self.extractor = extractor
    }

    /// A copy whose Redis commands may wait at least `timeout` (for one-shot tools, which can
    /// wait for a busy server longer than a request can).
    func allowingCommands(toWait timeout: Duration) -> AuthRuntime {
        var redis = self.redis
        redis.commandTimeout = max(redis.commandTimeout, timeout)
        return AuthRuntime(redis: redis, sessions: sessions, keyTemplate: keyTemplate, extractor: extractor)
    }

    public var format: SessionsConfig.Format { sessions.format }
    public var fields: SessionFieldMapping { sessions.fields }
    public var cacheTTL: Duration { sessions.cacheTTL }
    public var negativeTTL: Duration { sessions.negativeTTL }
    public var cacheSize: Int { sessions.cacheSize }
    public var revocationChannel: String { sessions.revocationChannel }
    public var recheckInterval: Duration { sessions.recheckInterval }

    public static func == (a: AuthRuntime, b: AuthRuntime) -> Bool {
        a === b || (a.redis == b.redis && a.sessions == b.sessions && a.keyTemplate == b.keyTemplate && a.extractor == b.extractor)
    }
}

extension RedisClientConfig {
    /// The client settings for a decoded `[redis]` table: every key of the table maps here
    /// (the rest are the client's own bounds).
    public init(_ config: RedisConfig) {
        self.init(host: config.host, port: Int(config.port), username: config.user, password: config.password,
                  database: config.database, commandTimeout: config.timeout, connectTimeout: config.connectTimeout)
    }
}
