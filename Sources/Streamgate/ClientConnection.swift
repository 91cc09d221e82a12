import StreamgateCore
import StreamgateIO

/// One client connection: reads request heads, runs exchanges one at a time (so pipelined
/// responses leave in request order), answers errors itself, and closes with a linger so the
/// client gets to read the final response.
final class ClientConnection: ConnectionDelegate, ExchangeOwner {
    typealias Lifecycle = ClientConnectionLifecycle

    unowned let worker: Worker
    let client: Connection
    /// The previous hop's address: the TCP peer, or on a `proxy_protocol` listener the source
    /// address of the PROXY header (set before any request is read).
    private(set) var clientIP: String
    /// Whether `clientIP` is in its listener's `trust_forwarded`: the client's X-Forwarded-For
    /// and Forwarded chain is then extended rather than replaced. Decided once per connection.
    private(set) var forwardingTrusted: Bool
    /// The forwarding lines of this connection's last proxied request, for the next (see
    /// `ForwardingHeaders.LinesCache`). Made on first use; dropped, like the head parser,
    /// while a live event stream holds the connection.
    private var forwardingCache: ForwardingHeaders.LinesCache?
    /// The listener's `trust_forwarded`, kept only until the PROXY header names the client.
    private var proxyHeaderTrust: TrustedProxies?
    /// A TLS listener with `proxy_protocol`: the certificates to start TLS with after the header.
    private var pendingTLS: TLSServerContext?
    /// Phases, the input-pass queue, the head deadline and closing: decided there, performed here.
    private var lifecycle: Lifecycle
    /// Made for the first head and kept, reset, for the next one on a keep-alive connection;
    /// dropped once a stream's connection goes quiet: a held stream does not keep ~230 bytes
    /// of parser state.
    private var headParser: Box<RequestHeadParser>?
    private(set) var exchange: ProxyExchange?
    /// Set when this connection counts against `max_connections_per_ip` (given back at close).
    var countedIP: String?
    /// `header_timeout` counted from a head's first byte (see `Lifecycle`). Created only for
    /// heads that span reads.
    private var headDeadline: LoopTimer?

    static let lingerTimeout: Duration = .seconds(2)

    init(worker: Worker, client: Connection, listener: ProxySettings.ListenerPolicy) {
        self.worker = worker
        self.client = client
        self.clientIP = client.peerAddress?.ipString ?? "-"
        self.forwardingTrusted = listener.trustForwarded.trusts(peer: clientIP)
        let (lifecycle, first) = Lifecycle.start(proxyProtocol: listener.proxyProtocol)
        self.lifecycle = lifecycle
        client.delegate = self
        client.setMaxReadSize(64 * 1024)
        client.setWriteLowWatermark(0)
        if listener.proxyProtocol {
            proxyHeaderTrust = listener.trustForwarded
            // Accepted plain (see `Worker.accept`): TLS starts once the header is read.
            pendingTLS = listener.tls
        }
        perform(first)
    }

    var settings: ProxySettings { worker.settings }
    var services: WorkerServices { worker.services }

    // MARK: - Lifecycle

    private func handle(_ event: Lifecycle.Event) {
        perform(lifecycle.handle(event))
    }

    /// Performs the lifecycle's actions in order. An action may report further events (a
    /// response written, an exchange finished); their actions are performed before the next.
    private func perform(_ actions: Lifecycle.Actions) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: Lifecycle.Action) {
        switch action {
        case .setReadTimeout(let which):
            let read: Duration? = switch which {
            case .header: settings.headerTimeout
            case .keepAlive: settings.keepaliveTimeout
            case .none: nil
            }
            client.setTimeouts(read: read, write: settings.sendTimeout)
        case .processInput:
            // Passes never nest: a request finished inside one asks for another afterwards.
            repeat { inputPass() } while lifecycle.handle(.inputPassFinished) == Lifecycle.Actions(.processInput)
        case .pauseReading:
            client.disableReading()
        case .resumeReading:
            client.enableReading()
        case .armHeadDeadline:
            let t = headDeadline ?? LoopTimer(loop: client.loop) { [unowned self] in self.handle(.headDeadlinePassed) }
            headDeadline = t
            t.schedule(after: settings.headerTimeout)
        case .cancelHeadDeadline:
            headDeadline?.cancel()
        case .notifyExchange(let notice):
            guard let exchange else { return }
            switch notice {
            case .clientReadable: exchange.clientReadable()
            case .clientEnded: exchange.clientEnded()
            case .clientTimedOut: exchange.clientTimedOut()
            case .clientDrained: exchange.clientDrained()
            case .drain: exchange.beginDrain()
            }
        case .answerRequestTimeout:
            respond(.error(status: 408, code: "request_timeout", requestID: nil, close: true),
                    to: nil, requestID: nil, route: nil, start: EventLoop.now())
        case .reportProxyHeaderTimeout:
            worker.proxyHeaderRefused(peer: clientIP, reason: "no complete header within header_timeout")
        case .closeWhenFlushed, .resetWhenFlushed:
            client.setWriteLowWatermark(0)
            if client.outputCount == 0 { handle(.outputDrained(empty: true)) }
        case .startLinger:
            // Half-close, then read and discard for a moment: closing with unread input would
            // send an RST that can destroy the response the client has not read yet (RFC 9112 §9.6).
            client.shutdownWrite()
            client.input.drain(client.inputCount)
            client.setTimeouts(read: ClientConnection.lingerTimeout, write: nil)
            client.enableReading()
        case .discardInput:
            client.input.drain(client.inputCount)
        case .closeNow:
            releaseHeadDeadline()
            exchange?.clientGone()
            exchange = nil
            client.close()
            worker.sessionClosed(self)
        case .resetNow:
            releaseHeadDeadline()
            client.abort()
            worker.sessionClosed(self)
        }
    }

    private func releaseHeadDeadline() {
        headDeadline?.cancel()
        headDeadline = nil
    }

    // MARK: - Reading requests

    /// Parses and dispatches as many buffered requests as can run now (the worker calls it
    /// once a connection is set up).
    func processInput() {
        handle(.bytesAvailable(buffered: client.inputCount, bodyWanted: false))
    }

    /// One pass over the buffered input: the PROXY header, then request heads while they can run.
    private func inputPass() {
        if lifecycle.phase == .readingProxyHeader { readProxyHeader() }
        parseAvailableHead()
    }

    // MARK: - PROXY protocol

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
            handle(.proxyHeaderRead)
        }
    }

    private func refuseProxyHeader(_ reason: String) {
        worker.proxyHeaderRefused(peer: clientIP, reason: reason)
        closeNow()
    }

    private func parseAvailableHead() {
        while lifecycle.phase == .readingHead, client.isOpen {
            let available = client.inputCount
            if available == 0 { return }
            let view = client.input.peek(max: min(available, settings.limits.maxHeaderBytes + 4))
            let parser = headParser ?? Box(RequestHeadParser(limits: settings.limits))
            headParser = parser
            // Taken apart at once: a `(consumed:head:)` tuple kept whole is destroyed through
            // the runtime's generic tuple path (hundreds of instructions per request).
            let consumed: Int
            let parsed: HTTPRequestHead?
            do {
                (consumed, parsed) = try parser.value.feed(view)
            } catch {
                fail(error, head: nil)
                return
            }
            client.input.drain(consumed)
            guard let head = parsed else {
                if parser.value.hasPartialHead { handle(.headIncomplete) }
                if consumed == 0 { return }
                continue
            }
            parser.value.reset()
            handle(.headParsed)
            dispatch(head)
        }
    }

    private func dispatch(_ head: HTTPRequestHead) {
        // The configuration this request is served under, to its end (see `WorkerSnapshot`).
        let snapshot = worker.current
        let settings = snapshot.settings
        let requestID = head.headers.first(.xRequestID).flatMap { RequestID.isValid($0) ? $0 : nil }
            ?? worker.nextRequestID()
        let start = EventLoop.now()
        // A CORS preflight asks about a route before the real request: answered here, without
        // credentials (browsers never send them on preflight), for routes that configure CORS.
        if head.method == "OPTIONS", head.headers.contains(name: "access-control-request-method"),
           let m = settings.router.matchIgnoringMethod(host: head.authority, path: head.path),
           let cors = m.route.auth.cors {
            answerPreflight(head, cors: cors, requestID: requestID, route: m.route.name,
                            slot: snapshot.metricsSlot(m.route), start: start)
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
        case .matched(let route, let params):
            // `%2F`, `%5C` and `\` mean different things to different upstreams: only a route
            // that forwards raw paths (and accepts that risk) takes them.
            // A raw_path route takes them only if reading them as `/` (as the upstream may)
            // still lands on this route.
            if head.hasAmbiguousSeparator
                && !(route.rawPath && separatorsStayOnRoute(head, route: route, router: settings.router)) {
                respond(.error(status: 400, code: "bad_request", requestID: requestID, close: true),
                        to: head, requestID: requestID, route: route.name, slot: snapshot.metricsSlot(route), start: start)
                return
            }
            // A `_` name can alias a header the upstream trusts (RFC 3875 §4.1.18): refused on
            // routes that authenticate unless the route allows it.
            if route.auth.refusesUnderscoreHeaders && UnderscoreHeaders.present(in: head.headers) {
                respond(.error(status: 400, code: "underscore_in_header_name", requestID: requestID, close: true),
                        to: head, requestID: requestID, route: route.name, slot: snapshot.metricsSlot(route), start: start)
                return
            }
            if case .contentLength(let n) = head.framing, settings.maxBodyBytes > 0, n > settings.maxBodyBytes {
                respond(.error(status: 413, code: "payload_too_large", requestID: requestID, close: true),
                        to: head, requestID: requestID, route: route.name, slot: snapshot.metricsSlot(route), start: start)
                return
            }
            let request = PendingRequest(snapshot: snapshot, head: head, route: route, params: params, requestID: requestID, start: start)
            authorize(request)
        }
    }

    private func separatorsStayOnRoute(_ head: HTTPRequestHead, route: Route, router: Router) -> Bool {
        guard let alternative = PathCanonicalizer.separatorsAsSlashes(head.rawPath ?? head.path),
              case .matched(let other, _) = router.match(method: head.method, host: head.authority, path: alternative) else { return false }
        return other === route
    }

    /// A routed request on its way to an exchange.
    struct PendingRequest {
        let snapshot: WorkerSnapshot
        var settings: ProxySettings { snapshot.settings }
        var head: HTTPRequestHead
        var route: Route
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
        let routeAuth = request.route.auth
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
            // A cached answer is decided in line: pausing reads (two epoll_ctl calls) and a
            // completion closure are only for the lookups that must wait for Redis.
            switch store.cachedAnswer(digest: digest) {
            case .found(let record)?:
                decide(request, credential: .session(record, source: source), token: (token, digest))
                return
            case .notFound?:
                decide(request, credential: .unknown, token: nil)
                return
            case .unavailable?, nil:
                break
            }
            handle(.authenticationStarted)
            store.lookup(token: token, digest: digest) { [weak self] outcome in
                guard let self, self.lifecycle.phase == .authenticating else { return }
                self.handle(.authenticationFinished)
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
        let routeAuth = request.route.auth
        var params: [String: String] = [:]
        for p in request.params { params[p.name] = p.value }
        switch AuthPolicy.decide(route: routeAuth.policy, credential: credential, origin: request.head.headers.first(name: "origin"),
                                 pathParameters: params, wallNow: EventLoop.wallSeconds()) {
        case .allow(let identity):
            services.metrics.authenticated(slot: request.metricsSlot, .ok)
            let auth = identity.map { ExchangeAuth(identity: $0, token: token?.0, digest: token?.1) }
            startExchange(request, auth: auth)
        case .deny(let denial):
            deny(request, denial)
        }
    }

    private func deny(_ request: PendingRequest, _ denial: AuthDenial) {
        let outcome = AuthOutcome(denial.reason)
        services.metrics.authenticated(slot: request.metricsSlot, outcome)
        var headers = denial.headers
        // A page on an allowed origin may read why it was refused (to refresh an expired token).
        request.route.auth.cors?.apply(to: &headers, origin: request.head.headers.first(name: "origin"), session: nil)
        headers.replaceOrAdd(name: "Cache-Control", value: "no-store")
        headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        respond(GatewayResponse(status: denial.status, headers: headers, body: Array(denial.body.utf8), close: request.head.framing != .none),
                to: request.head, requestID: request.requestID, route: request.route.name,
                slot: request.metricsSlot, start: request.start, deny: outcome)
    }

    private func startExchange(_ request: PendingRequest, auth: ExchangeAuth?) {
        var slot: StreamSlot?
        let route = request.route
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
        handle(.admissionStarted)
        leases.acquire(wanted) { [weak self] outcome in
            switch outcome {
            case .admitted(let lease):
                let slot = StreamSlot { local.giveBack(); lease.release() }
                guard let self, self.lifecycle.phase == .admitting else { slot.giveBack(); return }
                self.handle(.admissionFinished)
                self.openExchange(request, auth: auth, slot: slot)
            case .refused(let exceeded):
                local.giveBack()
                guard let self, self.lifecycle.phase == .admitting else { return }
                self.handle(.admissionFinished)
                self.refuseStream(request, exceeded)
            }
        }
    }

    private func openExchange(_ request: PendingRequest, auth: ExchangeAuth?, slot: StreamSlot?) {
        handle(.exchangeStarted(readsBody: request.head.framing != .none))
        // A trusted peer's chain differs per request: nothing to reuse.
        if forwardingCache == nil && !forwardingTrusted { forwardingCache = ForwardingHeaders.LinesCache() }
        let ex = ProxyExchange(owner: self, client: client, services: services, clientIP: clientIP, forwardingTrusted: forwardingTrusted,
                               forwardingCache: forwardingCache,
                               snapshot: request.snapshot, request: request.head, route: request.route, requestID: request.requestID,
                               start: request.start, auth: auth)
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
        case .route: services.metrics.streamsRefusedRoute += 1
        case .user: services.metrics.streamsRefusedUser += 1
        case .tenant: services.metrics.streamsRefusedTenant += 1
        }
        var h = HTTPHeaders()
        h.add(name: "Retry-After", value: "5")
        h.add(name: "Cache-Control", value: "no-store")
        let what = exceeded.which == .route ? "this route's" : "the \(exceeded.which.rawValue)'s"
        respond(.error(status: 429, code: "too_many_streams", requestID: request.requestID, close: request.head.framing != .none,
                       extraHeaders: h, description: "\(what) limit of \(exceeded.limit) concurrent streams is reached"),
                to: request.head, requestID: request.requestID, route: request.route.name,
                slot: request.metricsSlot, start: request.start, outcome: "limit_\(exceeded.which.rawValue)")
    }

    // MARK: - Responses the gateway writes itself

    /// Writes a gateway-generated response. With `head` nil (unparseable request) the
    /// connection always closes. `slot`: the route's in the worker's counters (`noRoute` when none
    /// matched); `deny`: why authentication refused it.
    func respond(_ response: GatewayResponse, to head: HTTPRequestHead?, requestID: String?, route: String?,
                 slot: Int = MetricsRegistry.noRoute, start: NanoTime, logged: Bool = false, outcome: String? = nil,
                 deny: AuthOutcome? = nil) {
        let close = response.close || head == nil || !(head?.keepAlive ?? false) || services.isDraining
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
            services.metrics.responded(slot: slot, status: response.status, elapsedNanos: elapsedNanos)
            if services.logsAccess {
                services.log(AccessLogRecord(
                    time: services.logTime(), requestID: requestID ?? "-", route: route, method: head?.method ?? "-",
                    path: head?.path ?? "-", status: response.status, bytesIn: 0,
                    bytesOut: UInt64(isHead ? 0 : response.body.count), durationMicros: elapsedNanos / 1000,
                    upstream: nil, clientIP: clientIP, outcome: outcome, deny: deny?.label))
            }
        }
        handle(.responseWritten(close: close))
    }

    private func fail(_ error: HTTPError, head: HTTPRequestHead?) {
        services.metrics.badRequests += 1
        respond(.error(status: error.status, code: GatewayResponse.code(for: error.status), requestID: nil, close: true),
                to: head, requestID: nil, route: nil, start: EventLoop.now())
    }

    // MARK: - ExchangeOwner

    /// Everything the running exchange reports; one that is no longer this connection's is ignored.
    func exchange(_ ex: ProxyExchange, reported event: ExchangeEvent) {
        guard exchange === ex else { return }
        switch event {
        case .finished(let reusable):
            exchange = nil
            handle(.exchangeFinished(reusable: reusable && !services.isDraining && client.isOpen))
        case .failed(let response):
            exchange = nil
            handle(.exchangeAbandoned)
            respond(response, to: ex.request, requestID: ex.requestID, route: ex.route.name, start: ex.startTime, logged: true)
        case .aborted(let discardPending):
            exchange = nil
            handle(.exchangeAborted(flushFirst: client.isOpen && client.outputCount > 0 && !discardPending))
        case .clientLeft:
            closeNow()
        case .pauseClientReads:
            client.disableReading()
        case .resumeClientReads:
            client.enableReading()
        case .requestBodyRead(let sendTimeout):
            client.setTimeouts(read: nil, write: sendTimeout)
        }
    }

    // MARK: - Closing

    func closeNow() {
        handle(.closeRequested)
    }

    /// Between requests on a kept-alive connection, with nothing of a next one received.
    var isIdleKeepAlive: Bool {
        lifecycle.isBetweenRequests && client.inputCount == 0 && exchange == nil
    }

    /// Drain: idle keep-alive connections close now; busy ones close after their exchange.
    func beginDrain() {
        handle(.drainBegun(inputBuffered: client.inputCount > 0))
    }

    deinit { client.delegate = nil }

    // MARK: - ConnectionDelegate

    func connectionReadable(_ connection: Connection) {
        handle(.bytesAvailable(buffered: client.inputCount, bodyWanted: exchange?.wantsRequestBody ?? false))
    }

    func connectionWritable(_ connection: Connection) {
        handle(.outputDrained(empty: client.outputCount == 0))
        // A live event stream's client is quiet from here on (events go straight to the
        // socket): its empty buffers are given back until needed (see `Connection`).
        if lifecycle.phase == .exchanging, exchange?.isStream == true {
            client.releaseIdleBuffers()
            headParser = nil
            forwardingCache = nil
        }
    }

    func connection(_ connection: Connection, event: ConnectionEvent) {
        switch event {
        case .endOfStream: handle(.endOfStream)
        case .readTimeout: handle(.readTimeout)
        default:
            // Reset, write timeout (a client that stopped reading), TLS failure.
            handle(.transportFailed)
        }
    }
}

extension Duration {
    var microseconds: UInt64 { nanosecondsClamped / 1000 }
}
