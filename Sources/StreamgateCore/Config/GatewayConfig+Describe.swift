/// The human summary `streamgate check` prints: what the gateway will actually do.
///
/// Secrets are never printed: the Redis password shows as `***` and the signing secret only as
/// "set". Strings that came from `${ENV}` are otherwise shown, as the operator resolved them.
extension GatewayConfig {
    public func describe() -> String {
        var lines: [String] = []
        lines.append("config: \(fileName)")
        let workers = switch gateway.workers { case .auto: "auto"; case .count(let n): "\(n)" }
        let accessLog = switch gateway.accessLog { case .stdout: "stdout"; case .off: "off"; case .file(let p): p }
        lines.append("workers: \(workers), drain_timeout: \(DurationSyntax.format(gateway.drainTimeout)), access_log: \(accessLog), log_level: \(gateway.logLevel.rawValue)")
        lines.append("listeners: " + listeners.map { l in
            "\(l.address)" + (l.isTLS ? " (tls, \(l.certificates.count) certificate\(l.certificates.count == 1 ? "" : "s"))" : "")
                + (l.proxyProtocol ? " (proxy_protocol)" : "")
                + (l.trustForwarded.isEmpty ? "" : " (trusts forwarding from \(l.trustForwarded))")
        }.joined(separator: ", "))
        lines.append("admin: " + (admin.map { "\($0.address)" } ?? "off"))
        lines.append("redis: " + (redis.map { "\($0) timeout \(DurationSyntax.format($0.timeout))" } ?? "none (auth disabled)"))
        lines.append("stream limits: " + (limits.shared ? "per user and tenant across instances (Redis leases, lease_ttl \(DurationSyntax.format(limits.leaseTTL)))" : "per instance"))
        lines.append("identity signing: " + (identity.signingSecret != nil ? "set (\(identity.signatureHeader))" : "off"))
        lines.append("upstreams:")
        for u in upstreams {
            lines.append("  \(u.name): " + u.targets.map(\.description).joined(separator: ", "))
        }
        lines.append("routes (in match order):")
        var table: [[String]] = [["NAME", "HOST", "MATCH", "METHODS", "UPSTREAM", "AUTH", "REWRITE"]]
        for r in Router(routes: routes).precedenceOrder {
            let rewrite = switch r.rewrite { case .none: "-"; case .stripPrefix: "strip"; case .replacePrefix(let p): "-> \(p)" }
            var auth = r.auth.mode.rawValue
            if r.auth.policy.allowQueryToken { auth += "+query" }
            if !r.auth.policy.requiredScopes.isEmpty { auth += " [\(r.auth.policy.requiredScopes.joined(separator: " "))]" }
            if r.auth.mode != .none && r.auth.allowUnderscoreHeaders { auth += " +underscore-headers" }
            table.append([
                r.name, r.host?.description ?? "*", "\(r.path)" + (r.forceStream ? " (sse)" : ""),
                r.methods?.joined(separator: ",") ?? "*", r.upstream, auth, rewrite,
            ])
        }
        var widths = [Int](repeating: 0, count: table[0].count)
        for row in table { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        for row in table {
            let cells = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }
            lines.append("  " + cells.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}
