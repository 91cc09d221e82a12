import StreamgateCore
import StreamgateIO

/// Authentication, resolved for the data path. Present only when `[redis]` is configured.
public struct AuthRuntime: Sendable, Equatable {
    public var redis: RedisClientConfig
    public var keyTemplate: SessionKeyTemplate
    public var format: SessionsConfig.Format
    public var fields: SessionFieldMapping
    public var cacheTTL: Duration
    public var negativeTTL: Duration
    public var cacheSize: Int
    public var revocationChannel: String
    public var recheckInterval: Duration
    public var extractor: TokenExtractor
}

/// Per-route auth decisions (policy, CORS, credential forwarding).
public struct RouteAuth: Sendable {
    public var policy: RouteAuthPolicy
    public var cors: CORSPolicy?
    public var forwardAuthorization: Bool
    public var lastEventIDParam: String?
    public var sessionEndEvent: String?
    /// Header names with `_` get a 400 (`RouteConfig.refusesUnderscoreHeaders`).
    public var refusesUnderscoreHeaders: Bool
}

extension RouteAuth {
    init(route r: RouteConfig, apiKeyHeader: String) {
        let mode: AuthMode
        switch r.auth {
        case .required: mode = .required
        case .optional: mode = .optional
        case .none: mode = .none
        }
        let origins: CORSOrigins?
        switch r.cors {
        case .disabled: origins = nil
        case .origins(let list): origins = .list(list.compactMap { WebOrigin($0) })
        case .session: origins = .session
        }
        policy = RouteAuthPolicy(mode: mode, allowQueryToken: r.queryToken, requiredScopes: r.scopes,
                                 tenantParameter: r.tenantParam, corsOrigins: origins)
        cors = origins.map { CORSPolicy(origins: $0, allowedMethods: r.methods ?? ["GET"], apiKeyHeader: apiKeyHeader) }
        forwardAuthorization = r.forwardAuthorization
        lastEventIDParam = r.lastEventIDParam
        sessionEndEvent = r.sessionEndEvent
        refusesUnderscoreHeaders = r.refusesUnderscoreHeaders
    }
}
