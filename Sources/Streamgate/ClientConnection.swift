import StreamgateCore
import StreamgateIO

/// One client connection: reads request heads, runs exchanges one at a time (so pipelined
/// responses leave in request order), answers errors itself, and closes with a linger so the
/// client gets to read the final response.
final class ClientConnection: ConnectionDelegate {
    enum State {
        /// A `proxy_protocol` listener: waiting for the PROXY header, before any request.
        case readingProxyHeader
        case readingHead
        /// Waiting for the session store; client reads are paused.
        case authenticating
        /// Waiting for Redis to count the stream fleet-wide (`shared = true`); reading stays on
        /// so that a client leaving meanwhile is noticed.
        case admitting
        case proxying
        /// Final response queued; waiting for it to flush before half-closing.
        case closingAfterFlush
        /// Write side shut; discarding input until EOF or the linger deadline.
        case lingering
        /// A broken exchange: what was relayed still goes out, then the socket is reset.
        case abortingAfterFlush
        case closed
    }

    unowned let worker: Worker
    let client: Connection
    /// The previous hop's address: the TCP peer, or on a `proxy_protocol` listener the source
    /// address of the PROXY header (set before any request is read).
    private(set) var clientIP: String
    /// Whether `clientIP` is in its listener's `trust_forwarded`: the client's X-Forwarded-For
    /// and Forwarded chain is then extended rather than replaced. Decided once per connection.
    private(set) var forwardingTrusted: Bool
    /// The listener's `trust_forwarded`, kept only until the PROXY header names the client.
    private var proxyHeaderTrust: TrustedProxies?
    /// A TLS listener with `proxy_protocol`: the certificates to start TLS with after the header.
    private var pendingTLS: TLSServerContext?
    private(set) var state: State = .readingHead
    /// Present only while a head is being read: a held stream does not keep ~230 bytes of
    /// parser state.
    private var headParser: Box<RequestHeadParser>?
    private var hasPartialHead: Bool { headParser?.value.hasPartialHead ?? false }
    private(set) var exchange: ProxyExchange?
    private var requestsServed = 0
    /// Set when this connection counts against `max_connections_per_ip` (given back at close).
    var countedIP: String?
    private var processing = false
    private var needsProcessing = false
    private var lingerDiscarded = 0
    /// `header_timeout` counted from a head's first byte: a client trickling a head byte by
    /// byte must not keep re-arming a read timeout. Created only for heads that span reads.
    private var headDeadline: LoopTimer?

    /// Bytes of unread pipelined input tolerated while an exchange runs before reading pauses.
    static let pipelineBufferLimit = 64 * 1024
    static let lingerTimeout: Duration = .seconds(2)
    static let lingerDiscardLimit = 256 * 1024

    init(worker: Worker, client: Connection, listener: ProxySettings.ListenerPolicy) {
        self.worker = worker
        self.client = client
        self.clientIP = client.peerAddress?.ipString ?? "-"
        self.forwardingTrusted = listener.trustForwarded.trusts(peer: clientIP)
        client.delegate = self
        client.setMaxReadSize(64 * 1024)
        client.setWriteLowWatermark(0)
        if listener.proxyProtocol {
            proxyHeaderTrust = listener.trustForwarded
            // Accepted plain (see `Worker.accept`): TLS starts once the header is read.
            pendingTLS = listener.tls
            enterReadingProxyHeader()
        } else {
            enterReadingHead()
        }
        client.enableReading()
    }

    var settings: ProxySettings { worker.settings }

    // MARK: - Reading requests

    private func enterReadingHead() {
        state = .readingHead
        let idle = requestsServed == 0 ? settings.headerTimeout : settings.keepaliveTimeout
        client.setTimeouts(read: idle, write: settings.sendTimeout)
    }

    /// Parses and dispatches as many buffered requests as can run now. Re-entrant calls (an
    /// exchange finishing synchronously inside another) are folded into the outer loop.
    func processInput() {
        if processing { needsProcessing = true; return }
        processing = true
        defer { processing = false }
        repeat {
            needsProcessing = false
            if state == .readingProxyHeader { readProxyHeader() }
            parseAvailableHead()
        } while needsProcessing
    }

    // MARK: - PROXY protocol

    /// The header must arrive whole within `header_timeout`, counted from the accept however
    /// slowly it trickles in.
    private func enterReadingProxyHeader() {
        state = .readingProxyHeader
        client.setTimeouts(read: settings.headerTimeout, write: settings.sendTimeout)
        startHeadDeadline()
    }

    /// Reads the PROXY header (HAProxy's "The PROXY protocol", v1 or v2) that must open every
    /// connection on a `proxy_protocol` listener. Its source address becomes the client's for
    /// logs, per-IP limits and forwarding; LOCAL and UNKNOWN keep the TCP peer's. Anything
    /// else closes the connection without a response, as the specification asks.
    private func readProxyHeader() {
        let available = client.inputCount
        guard available > 0 else { return }
        switch ProxyProtocolHeader.parse(client.input.peek(max: min(available, ProxyProtocolHeader.maxLength))) {
        case .needMore:
            return
        case .invalid(let reason):
            refuseProxyHeader(reason)
        case .parsed(let header):
            client.input.drain(header.length)
            headDeadline?.cancel()
            if let source = header.source { clientIP = source.address.description }
            forwardingTrusted = proxyHeaderTrust?.trusts(peer: clientIP) ?? false
            proxyHeaderTrust = nil
            // The per-IP count is of clients, not of the balancer: it starts now.
            guard worker.admitProxiedClient(self, ip: clientIP) else { closeNow(); return }
            if let tls = pendingTLS {
                // The PROXY header travels in the clear before the TLS handshake.
                pendingTLS = nil
                guard client.startServerTLS(tls) else { closeNow(); return }
            }
            enterReadingHead()
        }
    }

    private func refuseProxyHeader(_ reason: String) {
        worker.proxyHeaderRefused(peer: clientIP, reason: reason)
        closeNow()
    }

    private func parseAvailableHead() {
        while state == .readingHead, client.isOpen {
            let available = client.inputCount
            if available == 0 { return }
            let view = client.input.peek(max: min(available, settings.limits.maxHeaderBytes + 4))
            let parser = headParser ?? Box(RequestHeadParser(limits: settings.limits))
            headParser = parser
            let result: (consumed: Int, head: HTTPRequestHead?)
            do {
                result = try parser.value.feed(view)
            } catch {
                fail(error, head: nil)
                return
            }
            client.input.drain(result.consumed)
            guard let head = result.head else {
                if parser.value.hasPartialHead { startHeadDeadline() }
                if result.consumed == 0 { return }
                continue
            }
            headDeadline?.cancel()
            headParser = nil
            requestsServed += 1
            dispatch(head)
        }
    }

    private func dispatch(_ head: HTTPRequestHead) {
        // The configuration this request is served under, to its end (see `WorkerSnapshot`).
        let snapshot = worker.current
        let settings = snapshot.settings
        let requestID = head.headers.first(name: "x-request-id").flatMap { RequestID.isValid($0) ? $0 : nil }
            ?? worker.nextRequestID()
        let start = EventLoop.now()
        // A CORS preflight asks about a route before the real request: answered here, without
        // credentials (browsers never send them on preflight), for routes that configure CORS.
        if head.method == "OPTIONS", head.headers.contains(name: "access-control-request-method"),
           let m = settings.router.matchIgnoringMethod(host: head.authority, path: head.path),
           let cors = settings.routeAuth[m.index].cors {
            answerPreflight(head, cors: cors, requestID: requestID, route: settings.routes[m.index].name,
                            slot: snapshot.routeSlots[m.index], start: start)
            return
        }
        switch settings.router.match(method: head.method, host: head.authority, path: head.path) {
        case .notFound:
            respond(.error(status: 404, code: "not_found", requestID: requestID, close: head.framing != .none),
                    to: head, requestID: requestID, route: nil, start: start)
        case .methodNotAllowed(let allow):
            var h = HTTPHeaders()
            h.add(name: "Allow", value: allow.joined(separator: ", "))
            respond(.error(status: 405, code: "method_not_allowed", requestID: requestID, close: head.framing != .none, extraHeaders: h),
                    to: head, requestID: requestID, route: nil, start: start)
        case .matched(let index, let params):
            // `%2F`, `%5C` and `\` mean different things to different upstreams: only a route
            // that forwards raw paths (and accepts that risk) takes them.
            // A raw_path route takes them only if reading them as `/` (as the upstream may)
            // still lands on this route.
            if head.hasAmbiguousSeparator
                && !(settings.router.routes[index].rawPath && separatorsStayOnRoute(head, index: index, router: settings.router)) {
                respond(.error(status: 400, code: "bad_request", requestID: requestID, close: true),
                        to: head, requestID: requestID, route: settings.routes[index].name, slot: snapshot.routeSlots[index], start: start)
                return
            }
            // A `_` name can alias a header the upstream trusts (RFC 3875 §4.1.18): refused on
            // routes that authenticate unless the route allows it.
            if settings.routeAuth[index].refusesUnderscoreHeaders && UnderscoreHeaders.present(in: head.headers) {
                respond(.error(status: 400, code: "underscore_in_header_name", requestID: requestID, close: true),
                        to: head, requestID: requestID, route: settings.routes[index].name, slot: snapshot.routeSlots[index], start: start)
                return
            }
            if case .contentLength(let n) = head.framing, settings.maxBodyBytes > 0, n > settings.maxBodyBytes {
                respond(.error(status: 413, code: "payload_too_large", requestID: requestID, close: true),
                        to: head, requestID: requestID, route: settings.routes[index].name, slot: snapshot.routeSlots[index], start: start)
                return
            }
            let request = PendingRequest(snapshot: snapshot, head: head, routeIndex: index, params: params, requestID: requestID, start: start)
            authorize(request)
        }
    }

    private func separatorsStayOnRoute(_ head: HTTPRequestHead, index: Int, router: Router) -> Bool {
        guard let alternative = PathCanonicalizer.separatorsAsSlashes(head.rawPath ?? head.path),
              case .matched(let other, _) = router.match(method: head.method, host: head.authority, path: alternative) else { return false }
        return other == index
    }

    /// A routed request on its way to an exchange.
    struct PendingRequest {
        let snapshot: WorkerSnapshot
        var settings: ProxySettings { snapshot.settings }
        var head: HTTPRequestHead
        var routeIndex: Int
        var params: [(name: String, value: String)]
        var requestID: String
        var start: NanoTime
    }

    private func answerPreflight(_ head: HTTPRequestHead, cors: CORSPolicy, requestID: String, route: String, slot: Int, start: NanoTime) {
        switch cors.preflight(headers: head.headers) {
        case .allowed(let headers):
            respond(GatewayResponse(status: 204, headers: headers, body: [], close: head.framing != .none),
                    to: head, requestID: requestID, route: route, slot: slot, start: start)
        case .refused(let why):
            var h = HTTPHeaders()
            h.add(name: "Vary", value: "Origin")
            respond(.error(status: 403, code: "cors_\(why.rawValue)", requestID: requestID, close: head.framing != .none, extraHeaders: h),
                    to: head, requestID: requestID, route: route, slot: slot, start: start)
        }
    }

    // MARK: - Authentication

    private func authorize(_ request: PendingRequest) {
        let routeAuth = request.settings.routeAuth[request.routeIndex]
        if routeAuth.policy.mode == .none && routeAuth.policy.corsOrigins == nil {
            startExchange(request, auth: nil)
            return
        }
        guard let runtime = request.settings.auth, let store = request.snapshot.store else {
            // Only reachable through a config that validation rejects; fail closed anyway.
            decide(request, credential: .missing, token: nil)
            return
        }
        switch runtime.extractor.extract(from: request.head, allowQueryToken: routeAuth.policy.allowQueryToken) {
        case .none:
            decide(request, credential: .missing, token: nil)
        case .malformed(let reason):
            decide(request, credential: .malformed(reason), token: nil)
        case .token(let token, let source):
            let digest = SessionStore.digest(of: token)
            state = .authenticating
            client.disableReading()
            client.setTimeouts(read: nil, write: settings.sendTimeout)
            store.lookup(token: token, digest: digest) { [weak self] outcome in
                guard let self, self.state == .authenticating else { return }
                self.state = .readingHead
                self.client.enableReading()
                switch outcome {
                case .found(let record):
                    self.decide(request, credential: .session(record, source: source), token: (token, digest))
                case .notFound:
                    self.decide(request, credential: .unknown, token: nil)
                case .unavailable:
                    self.deny(request, AuthPolicy.storeUnavailable(retryAfterSeconds: 1))
                }
            }
        }
    }

    private func decide(_ request: PendingRequest, credential: PresentedCredential, token: (String, TokenDigest)?) {
        let routeAuth = request.settings.routeAuth[request.routeIndex]
        var params: [String: String] = [:]
        for p in request.params { params[p.name] = p.value }
        switch AuthPolicy.decide(route: routeAuth.policy, credential: credential, origin: request.head.headers.first(name: "origin"),
                                 pathParameters: params, wallNow: EventLoop.wallSeconds()) {
        case .allow(let identity):
            worker.metrics.authenticated(slot: request.metricsSlot, .ok)
            let auth = identity.map { ExchangeAuth(identity: $0, token: token?.0, digest: token?.1) }
            startExchange(request, auth: auth)
        case .deny(let denial):
            deny(request, denial)
        }
    }

    private func deny(_ request: PendingRequest, _ denial: AuthDenial) {
        let outcome = AuthOutcome(denial.reason)
        worker.metrics.authenticated(slot: request.metricsSlot, outcome)
        var headers = denial.headers
        // A page on an allowed origin may read why it was refused (to refresh an expired token).
        request.settings.routeAuth[request.routeIndex].cors?.apply(to: &headers, origin: request.head.headers.first(name: "origin"), session: nil)
        headers.replaceOrAdd(name: "Cache-Control", value: "no-store")
        headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        respond(GatewayResponse(status: denial.status, headers: headers, body: Array(denial.body.utf8), close: request.head.framing != .none),
                to: request.head, requestID: request.requestID, route: request.settings.routes[request.routeIndex].name,
                slot: request.metricsSlot, start: request.start, deny: outcome)
    }

    private func startExchange(_ request: PendingRequest, auth: ExchangeAuth?) {
        var slot: StreamSlot?
        let route = request.settings.routes[request.routeIndex]
        if !route.streamLimits.isUnlimited && (route.forceStream || Self.asksForEventStream(request.head)) {
            let limiter = worker.streamLimiter
            switch limiter.acquire(route: route.name, user: auth?.identity.userID, tenant: auth?.identity.tenantID, limits: route.streamLimits) {
            case .success(let keys):
                slot = StreamSlot { limiter.release(keys) }
            case .failure(let exceeded):
                refuseStream(request, exceeded)
                return
            }
            // `shared = true`: this instance's count admitted it; Redis counts the fleet.
            if let leases = request.snapshot.leases, let local = slot {
                let wanted = StreamLeases.wanted(user: auth?.identity.userID, tenant: auth?.identity.tenantID, limits: route.streamLimits)
                if !wanted.isEmpty {
                    admitFleetWide(request, auth: auth, local: local, leases: leases, wanted: wanted)
                    return
                }
            }
        }
        openExchange(request, auth: auth, slot: slot)
    }

    /// Asks Redis for the stream's user and tenant slots. Whatever happens to the client
    /// meanwhile, both slots (this instance's and the lease) are given back exactly once: by
    /// the exchange when it ends, or here when there is no exchange to hand them to.
    private func admitFleetWide(_ request: PendingRequest, auth: ExchangeAuth?, local: StreamSlot, leases: StreamLeases,
                                wanted: [StreamLeases.Wanted]) {
        state = .admitting
        client.setTimeouts(read: nil, write: settings.sendTimeout)
        leases.acquire(wanted) { [weak self] outcome in
            switch outcome {
            case .admitted(let lease):
                let slot = StreamSlot { local.giveBack(); lease.release() }
                guard let self, self.state == .admitting else { slot.giveBack(); return }
                self.client.enableReading()
                self.openExchange(request, auth: auth, slot: slot)
            case .refused(let exceeded):
                local.giveBack()
                guard let self, self.state == .admitting else { return }
                self.state = .readingHead
                self.client.enableReading()
                self.refuseStream(request, exceeded)
            }
        }
    }

    private func openExchange(_ request: PendingRequest, auth: ExchangeAuth?, slot: StreamSlot?) {
        state = .proxying
        // While an exchange runs the client may legitimately stay silent (long responses).
        client.setTimeouts(read: request.head.framing == .none ? nil : settings.headerTimeout, write: settings.sendTimeout)
        let ex = ProxyExchange(session: self, snapshot: request.snapshot, request: request.head, routeIndex: request.routeIndex, params: request.params,
                               requestID: request.requestID, start: request.start, auth: auth)
        ex.streamSlot = slot
        exchange = ex
        ex.start()
    }

    /// `Accept` names `text/event-stream` (what `EventSource` sends).
    static func asksForEventStream(_ head: HTTPRequestHead) -> Bool {
        head.headers.values(name: "accept").contains { $0.lowercased().contains("text/event-stream") }
    }

    /// 429: a concurrent-stream limit is reached. `Retry-After` gives a client that backs off
    /// a sensible pause; `EventSource` itself does not retry after a 429.
    private func refuseStream(_ request: PendingRequest, _ exceeded: StreamLimiter.ExceededLimit) {
        switch exceeded.which {
        case .route: worker.metrics.streamsRefusedRoute += 1
        case .user: worker.metrics.streamsRefusedUser += 1
        case .tenant: worker.metrics.streamsRefusedTenant += 1
        }
        var h = HTTPHeaders()
        h.add(name: "Retry-After", value: "5")
        h.add(name: "Cache-Control", value: "no-store")
        let what = exceeded.which == .route ? "this route's" : "the \(exceeded.which.rawValue)'s"
        respond(.error(status: 429, code: "too_many_streams", requestID: request.requestID, close: request.head.framing != .none,
                       extraHeaders: h, description: "\(what) limit of \(exceeded.limit) concurrent streams is reached"),
                to: request.head, requestID: request.requestID, route: request.settings.routes[request.routeIndex].name,
                slot: request.metricsSlot, start: request.start, outcome: "limit_\(exceeded.which.rawValue)")
    }

    // MARK: - Responses the gateway writes itself

    /// Writes a gateway-generated response. With `head` nil (unparseable request) the
    /// connection always closes. `slot`: the route's in the worker's counters (`noRoute` when none
    /// matched); `deny`: why authentication refused it.
    func respond(_ response: GatewayResponse, to head: HTTPRequestHead?, requestID: String?, route: String?,
                 slot: Int = MetricsRegistry.noRoute, start: NanoTime, logged: Bool = false, outcome: String? = nil,
                 deny: AuthOutcome? = nil) {
        let close = response.close || head == nil || !(head?.keepAlive ?? false) || worker.isDraining
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        if let requestID { headers.replaceOrAdd(name: "X-Request-Id", value: requestID) }
        if close { headers.replaceOrAdd(name: "Connection", value: "close") }
        let isHead = head?.method == "HEAD"
        client.output.append(HTTPSerializer.responseHead(version: .http1_1, status: response.status,
                                                         reason: HTTPSerializer.reasonPhrase(for: response.status), headers: headers))
        if !isHead { client.output.append(response.body) }
        if !logged {
            let elapsedNanos = EventLoop.now().nanoseconds(since: start)
            worker.metrics.responded(slot: slot, status: response.status, elapsedNanos: elapsedNanos)
            if worker.logsAccess {
                worker.log(AccessLogRecord(
                    time: worker.logTime(), requestID: requestID ?? "-", route: route, method: head?.method ?? "-",
                    path: head?.path ?? "-", status: response.status, bytesIn: 0,
                    bytesOut: UInt64(isHead ? 0 : response.body.count), durationMicros: elapsedNanos / 1000,
                    upstream: nil, clientIP: clientIP, outcome: outcome, deny: deny?.label))
            }
        }
        if close {
            closeAfterFlush()
        } else {
            enterReadingHead()
            processInput()
        }
    }

    private func fail(_ error: HTTPError, head: HTTPRequestHead?) {
        worker.metrics.badRequests += 1
        respond(.error(status: error.status, code: GatewayResponse.code(for: error.status), requestID: nil, close: true),
                to: head, requestID: nil, route: nil, start: EventLoop.now())
    }

    private func startHeadDeadline() {
        if headDeadline?.isArmed == true { return }
        let t = headDeadline ?? LoopTimer(loop: client.loop) { [unowned self] in self.headDeadlinePassed() }
        headDeadline = t
        t.schedule(after: settings.headerTimeout)
    }

    private func headDeadlinePassed() {
        if state == .readingProxyHeader { refuseProxyHeader("no complete header within header_timeout"); return }
        guard state == .readingHead, hasPartialHead else { return }
        respond(.error(status: 408, code: "request_timeout", requestID: nil, close: true),
                to: nil, requestID: nil, route: nil, start: EventLoop.now())
    }

    // MARK: - Exchange callbacks

    /// The exchange wrote its whole response. `reusable`: the connection may carry another request.
    func exchangeFinished(_ ex: ProxyExchange, reusable: Bool) {
        guard exchange === ex else { return }
        exchange = nil
        if reusable && !worker.isDraining && client.isOpen {
            enterReadingHead()
            client.enableReading()
            processInput()
        } else {
            closeAfterFlush()
        }
    }

    /// The exchange failed before its response started; the caller answers with `respond`.
    func exchangeAbandoned(_ ex: ProxyExchange) {
        guard exchange === ex else { return }
        exchange = nil
        state = .readingHead
    }

    /// The exchange could not complete cleanly: drop the client without a graceful end, so it
    /// can tell a truncated response from a complete one.
    func exchangeAborted(_ ex: ProxyExchange, discardPending: Bool) {
        guard exchange === ex else { return }
        exchange = nil
        guard client.isOpen, client.outputCount > 0, !discardPending else { abortClient(); return }
        state = .abortingAfterFlush
        client.disableReading()
        client.setWriteLowWatermark(0)
    }

    // MARK: - Closing

    func closeAfterFlush() {
        guard state != .closed, state != .lingering, state != .abortingAfterFlush else { return }
        state = .closingAfterFlush
        client.setWriteLowWatermark(0)
        if client.outputCount == 0 { startLinger() }
    }

    /// Half-close, then read and discard for a moment: closing with unread input would send an
    /// RST that can destroy the response the client has not read yet (RFC 9112 §9.6).
    private func startLinger() {
        state = .lingering
        client.shutdownWrite()
        client.input.drain(client.inputCount)
        client.setTimeouts(read: ClientConnection.lingerTimeout, write: nil)
        client.enableReading()
    }

    func abortClient() {
        guard state != .closed else { return }
        state = .closed
        headDeadline?.cancel()
        headDeadline = nil
        client.abort()
        worker.sessionClosed(self)
    }

    func closeNow() {
        guard state != .closed else { return }
        state = .closed
        headDeadline?.cancel()
        headDeadline = nil
        exchange?.clientGone()
        exchange = nil
        client.close()
        worker.sessionClosed(self)
    }

    /// Between requests on a kept-alive connection, with nothing of a next one received.
    var isIdleKeepAlive: Bool {
        state == .readingHead && requestsServed > 0 && !hasPartialHead && client.inputCount == 0 && exchange == nil
    }

    /// Drain: idle keep-alive connections close now; busy ones close after their exchange.
    func beginDrain() {
        if (state == .readingHead && !hasPartialHead && client.inputCount == 0) || state == .readingProxyHeader { closeNow() }
        exchange?.beginDrain()
    }

    // MARK: - ConnectionDelegate

    func connectionReadable(_ connection: Connection) {
        switch state {
        case .readingHead, .readingProxyHeader:
            processInput()
        case .proxying:
            if let exchange, exchange.wantsRequestBody {
                exchange.clientReadable()
            } else if client.inputCount > ClientConnection.pipelineBufferLimit {
                client.disableReading()
            }
        case .lingering:
            lingerDiscarded += client.inputCount
            client.input.drain(client.inputCount)
            if lingerDiscarded > ClientConnection.lingerDiscardLimit { closeNow() }
        case .closingAfterFlush, .abortingAfterFlush:
            client.input.drain(client.inputCount)
        case .admitting:
            if client.inputCount > ClientConnection.pipelineBufferLimit { client.disableReading() }
        case .closed, .authenticating:
            break
        }
    }

    func connectionWritable(_ connection: Connection) {
        switch state {
        case .closingAfterFlush:
            if client.outputCount == 0 { startLinger() }
        case .abortingAfterFlush:
            if client.outputCount == 0 { abortClient() }
        case .proxying:
            exchange?.clientDrained()
        default:
            break
        }
        // A live event stream's client is quiet from here on (events go straight to the
        // socket): its empty buffers are given back until needed (see `Connection`).
        if state == .proxying, exchange?.isStream == true { client.releaseIdleBuffers() }
    }

    func connection(_ connection: Connection, event: ConnectionEvent) {
        switch (state, event) {
        case (.readingProxyHeader, .readTimeout):
            refuseProxyHeader("no complete header within header_timeout")
        case (.readingHead, .readTimeout):
            if hasPartialHead {
                respond(.error(status: 408, code: "request_timeout", requestID: nil, close: true),
                        to: nil, requestID: nil, route: nil, start: EventLoop.now())
            } else {
                closeNow()
            }
        case (.proxying, .endOfStream):
            // The client finished sending. A streaming exchange treats that as the client leaving.
            if let exchange { exchange.clientEnded() } else { closeNow() }
        case (.proxying, .readTimeout):
            exchange?.clientTimedOut()
        case (.lingering, _), (.closingAfterFlush, .endOfStream), (.closingAfterFlush, .readTimeout):
            closeNow()
        default:
            // Reset, write timeout (a client that stopped reading), or EOF while idle.
            if let exchange { exchange.clientGone(); self.exchange = nil }
            closeNow()
        }
    }
}

extension Duration {
    var microseconds: UInt64 { nanosecondsClamped / 1000 }
}
