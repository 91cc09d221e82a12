import StreamgateCore
import StreamgateIO

/// The caller behind an exchange, kept for identity headers, logs and live-stream checks.
final class ExchangeAuth {
    let identity: Identity
    /// Kept only while the exchange lives: re-validation of long streams looks it up again.
    let token: String?
    let digest: TokenDigest?

    init(identity: Identity, token: String?, digest: TokenDigest?) {
        self.identity = identity
        self.token = token
        self.digest = digest
    }
}

/// One request relayed to an upstream and its response relayed back, both streamed: bytes move
/// between the two sockets' buffers as they arrive, with watermarks pausing whichever side is
/// ahead, so memory per exchange stays bounded whatever the body sizes.
///
/// What to send and when to end are decided in Core: `UpstreamRequest` (the upstream head),
/// `ResponsePlan` (the client's head and framing), `ExchangeLifecycle` (retries, errors,
/// completion); this class moves the bytes and carries out those decisions.
final class ProxyExchange: UpstreamConnectionOwner, ConnectionReceiver {
    typealias ClientFraming = ResponsePlan.ClientFraming

    /// The connection that runs this exchange: told everything through `ExchangeEvent`.
    unowned let owner: any ExchangeOwner
    /// The worker's loop, counters, logs and drain flag. Strong: the services hold nothing of
    /// an exchange's (no cycle), and a strong constant is read without the reference counting
    /// an unowned one costs on every access (several per request).
    let services: WorkerServices
    /// The client's address, fixed for the connection before any request: for forwarding headers and logs.
    let clientIP: String
    private(set) var request: HTTPRequestHead
    /// The configuration the exchange started with (`snapshot.settings`, held directly for
    /// the hot path), with the pools and store built for it.
    let snapshot: WorkerSnapshot
    let settings: ProxySettings
    let route: Route
    let requestID: String
    let startTime: NanoTime

    private var pool: UpstreamPool
    var upstream: UpstreamConnection?
    /// Where the exchange stands (connecting, awaiting the head, relaying, done) and what
    /// each event means for it; this class carries out what it decides.
    private var lifecycle: ExchangeLifecycle
    /// When the first upstream connect attempt began (time to first byte runs from here).
    var upstreamStart = NanoTime.zero
    private var upstreamTargetText: String?
    /// Connect failover (`nextAddress(after:)`): the target tried first, and the address at
    /// which the walk over the current target's addresses started.
    private var firstTarget = 0
    private var firstAddressOfTarget = 0

    /// Holds the wait for the final response to `read_timeout` once interim heads arrive: every
    /// read re-arms the socket's own timeout, so a trickle of 1xx heads would otherwise keep
    /// the exchange waiting forever.
    private var finalResponseTimer: LoopTimer?

    // Request side.
    /// Only while a request body is relayed (see `Box`).
    private var requestDecoder: Box<BodyDecoder>?
    private var upstreamChunked = false
    /// Whether the client's forwarding headers are extended rather than replaced (declared
    /// beside another Bool: it packs into padding instead of adding a word per exchange).
    let forwardingTrusted: Bool
    private var bytesIn: UInt64 = 0
    /// The client connection's forwarding lines, until the request head is written.
    private var forwardingCache: ForwardingHeaders.LinesCache?

    // Response side.
    /// Only until the response head is in (see `Box`).
    private var responseParser: Box<ResponseHeadParser>?
    /// The final response head's status, once it is in: all the exchange keeps of the head
    /// (with whether the upstream keeps the connection), not the head itself, which a stream
    /// would otherwise hold for hours.
    private var responseStatus: Int?
    private var upstreamKeepsAlive = false
    private var responseDecoder: BodyDecoder?
    var clientFraming: ClientFraming = .none
    var bytesOut: UInt64 = 0
    private var upstreamPaused = false
    private(set) var isStream = false
    /// Present while relaying an event stream.
    var stream: StreamRelay?
    var outcome: ExchangeOutcome?

    /// Upstream output above this pauses reading the client's request body.
    static let requestBodyHighWater = 64 * 1024

    /// The authenticated caller, when the route authenticates.
    let auth: ExchangeAuth?
    /// This request's concurrent-stream slots (when the route limits streams): given back when
    /// the exchange ends, however it ends.
    var streamSlot: StreamSlot?
    var routeAuth: RouteAuth { route.auth }

    init(owner: any ExchangeOwner, client: Connection, services: WorkerServices, clientIP: String, forwardingTrusted: Bool,
         forwardingCache: ForwardingHeaders.LinesCache? = nil, snapshot: WorkerSnapshot, request: HTTPRequestHead, route: Route, requestID: String, start: NanoTime, auth: ExchangeAuth?) {
        self.auth = auth
        self.owner = owner
        self.services = services
        self.clientIP = clientIP
        self.forwardingTrusted = forwardingTrusted
        self.forwardingCache = forwardingCache
        self.client = client
        self.request = request
        self.route = route
        self.snapshot = snapshot
        self.settings = snapshot.settings
        self.requestID = requestID
        self.startTime = start
        self.pool = snapshot.pools[route.upstreamIndex]
        self.lifecycle = ExchangeLifecycle(method: request.method, requestFraming: request.framing)
    }

    /// The client's connection, held directly: the relay path reaches it on every read.
    let client: Connection

    deinit {
        // Normally let go already; a connection still attached must not call back into us.
        if let up = upstream {
            up.owner = nil
            up.connection.close()
        }
    }

    /// Applies an event to the lifecycle through a copy: a mutating call on the stored property
    /// itself (into another module) would make every access to it, the relay path's reads
    /// included, pay a runtime exclusivity check (as for the decoders, see `peerClosedResponseBody`).
    @inline(__always)
    private func advance<Value>(_ event: (inout ExchangeLifecycle) -> Value) -> Value {
        var copy = lifecycle
        let result = event(&copy)
        lifecycle = copy
        return result
    }

    /// True while the client's request body is still being relayed.
    var wantsRequestBody: Bool { !lifecycle.requestBodyDone && !lifecycle.isDone }

    // MARK: - Starting

    func start() {
        upstreamStart = EventLoop.now()
        firstTarget = pool.pickTarget()
        firstAddressOfTarget = pool.preferredAddress(of: firstTarget)
        connectUpstream(target: firstTarget)
    }

    private func connectUpstream(target: Int, address: Int? = nil) {
        advance({ $0.connectStarted() })
        guard let up = pool.acquire(target: target, address: address, connectTimeout: route.connectTimeout, owner: self) else {
            fail(.socketUnavailable)
            return
        }
        upstream = up
        upstreamTargetText = up.targetText
        takeResponseParser()
        up.connection.setWriteLowWatermark(ProxyExchange.requestBodyHighWater / 2)
        sendRequestHead(on: up)
        if up.isConnected {
            advance({ $0.connected() })
            armResponseTimeout()
        }
        if !lifecycle.requestBodyDone { relayRequestBody() }
    }

    /// A parser for the new connection's response, fresh: this exchange's own (after a retry),
    /// else one the pool kept when it has these limits (a reload may have changed them), else
    /// a new one.
    private func takeResponseParser() {
        let limits = settings.limits
        var parser = responseParser
        if parser == nil, let spare = pool.takeSpareParser(), spare.value.limits == limits { parser = spare }
        if let parser {
            parser.value.reset(requestMethod: request.method)
            responseParser = parser
        } else {
            responseParser = Box(ResponseHeadParser(limits: limits, requestMethod: request.method))
        }
    }

    private func sendRequestHead(on up: UpstreamConnection) {
        let policy = UpstreamRequest.Policy(
            credentials: settings.auth.map { .init(forwardAuthorization: routeAuth.forwardAuthorization,
                                                   apiKeyHeader: $0.extractor.apiKeyHeader, queryParameter: $0.extractor.queryParameter) },
            lastEventIDParameter: routeAuth.lastEventIDParam)
        let hop = ForwardingHeaders.ClientHop(
            clientIP: clientIP, scheme: client.isTLS ? "https" : "http", host: request.authority,
            requestID: requestID, trustForwarded: forwardingTrusted)
        upstreamChunked = request.framing == .chunked
        UpstreamRequest.withHead(
            for: request, targetPath: route.upstreamPath(request.path, rawPath: request.rawPath),
            policy: policy, hop: hop, forwardingCache: forwardingCache,
            identityHeaders: settings.identity, identity: auth?.identity, signer: settings.signer,
            scratch: services.loop.headScratch
        ) { up.connection.write($0) }
        // Used: a retry writes its lines itself, and a held stream keeps no reference.
        forwardingCache = nil
    }

    private func armResponseTimeout() {
        guard let up = upstream else { return }
        up.connection.setTimeouts(read: route.readTimeout, write: route.readTimeout)
    }

    // MARK: - Request body (client -> upstream)

    func clientReadable() { relayRequestBody() }

    private func relayRequestBody() {
        guard let up = upstream, !lifecycle.requestBodyDone else { return }
        let decoder = requestDecoder ?? Box(BodyDecoder(framing: request.framing, limits: settings.limits, isRequest: true))
        requestDecoder = decoder
        let input = client.input
        let out = up.connection.output
        do {
            while true {
                let available = input.count
                switch try decoder.value.next(prefix: input.peek(max: min(available, 4096)), available: available) {
                case .data(let n):
                    bytesIn += UInt64(n)
                    if settings.maxBodyBytes > 0, bytesIn > settings.maxBodyBytes {
                        failBeforeResponse(status: 413, code: "payload_too_large", outcome: .requestBodyTooLarge)
                        return
                    }
                    if upstreamChunked { out.appendChunkHeader(n) }
                    input.move(n, to: out)
                    if upstreamChunked { out.append(ProxyExchange.crlf) }
                case .skip(let n):
                    input.drain(n)
                case .needMore:
                    return
                case .end(let skip):
                    input.drain(skip)
                    if upstreamChunked { out.append(ProxyExchange.lastChunk) }
                    requestDecoder = nil
                    owner.exchange(self, reported: .requestBodyRead(sendTimeout: settings.sendTimeout))
                    if advance({ $0.requestBodyEnded() }) { finish() }
                    return
                }
                if out.count > ProxyExchange.requestBodyHighWater {
                    owner.exchange(self, reported: .pauseClientReads)
                    return
                }
            }
        } catch {
            failBeforeResponse(status: error.status, code: GatewayResponse.code(for: error.status), outcome: .badRequestBody)
        }
    }

    func upstreamWritable(_ up: UpstreamConnection) {
        if !lifecycle.requestBodyDone && !client.isReading {
            owner.exchange(self, reported: .resumeClientReads)
            relayRequestBody()
        }
    }

    // MARK: - Response (upstream -> client)

    func upstreamConnected(_ up: UpstreamConnection) {
        advance({ $0.connected() })
        armResponseTimeout()
    }

    func upstreamReadable(_ up: UpstreamConnection) {
        if !lifecycle.hasResponseHead {
            parseResponseHead(up)
            if !lifecycle.hasResponseHead { return }
        }
        if stream != nil {
            relayBufferedStream(up)
        } else {
            relayResponseBody()
        }
    }

    private func parseResponseHead(_ up: UpstreamConnection) {
        let input = up.connection.input
        while !lifecycle.hasResponseHead, let parser = responseParser {
            let available = input.count
            if available == 0 { return }
            // Taken apart at once (see `ClientConnection.parseAvailableHead`).
            let consumed: Int
            let parsed: HTTPResponseHead?
            do {
                (consumed, parsed) = try parser.value.feed(input.peek(max: min(available, settings.limits.maxHeaderBytes + 4)))
            } catch {
                fail(.badResponseHead)
                return
            }
            input.drain(consumed)
            guard let head = parsed else { if consumed == 0 { return }; continue }
            if head.status >= 100 && head.status < 200 {
                // Interim answers pass on to HTTP/1.1 clients (100 Continue unblocks a client
                // waiting to send its body).
                switch advance({ $0.interimHead(status: head.status) }) {
                case .fail(let failure):
                    if failure == .interimFlood {
                        services.logError("upstream \(up.target) sent more than \(ExchangeLifecycle.maxInterimResponses) interim responses (request \(requestID), route \(route.name))")
                    }
                    fail(failure)
                    return
                case .relay(let armFinalResponseTimer):
                    if armFinalResponseTimer {
                        let timer = LoopTimer(loop: services.loop) { [unowned self] in self.finalResponseTimedOut() }
                        timer.schedule(after: route.readTimeout)
                        finalResponseTimer = timer
                    }
                }
                // At most `maxInterimResponses` short heads (no fields are relayed) reach the
                // client's buffer, so they need no backpressure of their own.
                if request.version == .http1_1 {
                    client.output.append(HTTPSerializer.responseHead(version: .http1_1, status: head.status, reason: head.reason, headers: HTTPHeaders()))
                }
                parser.value.reset(requestMethod: request.method)
                continue
            }
            startResponse(head)
        }
    }

    private func finalResponseTimedOut() {
        guard let failure = lifecycle.finalResponseTimedOut() else { return }
        services.logError("upstream \(upstreamTargetText ?? "-") sent interim responses but no final one within read_timeout (request \(requestID), route \(route.name))")
        fail(failure)
    }

    private func startResponse(_ head: HTTPResponseHead) {
        finalResponseTimer = nil
        let facts = ResponsePlan.Request(
            method: request.method, version: request.version, keepAlive: request.keepAlive, requestID: requestID,
            draining: services.isDraining, forceStream: route.forceStream, cors: routeAuth.cors,
            origin: routeAuth.cors == nil ? nil : request.headers.first(name: "origin"), session: auth?.identity.session,
            requiresNoStore: auth?.identity.requiresNoStore == true)
        let plan: ResponsePlan
        switch ResponsePlan.make(for: head, request: facts, scratch: services.loop.headScratch) {
        case .success(let made):
            plan = made
        case .failure(.transferCodingForHTTP10(let codings)):
            services.logError("upstream \(upstreamTargetText ?? "-") applied Transfer-Encoding \(codings.joined(separator: ", ")) for an HTTP/1.0 client (request \(requestID))")
            fail(.transferCodingForHTTP10)
            return
        }
        responseStatus = head.status
        upstreamKeepsAlive = head.keepAlive
        if !plan.isStream, let parser = responseParser { pool.keepSpareParser(parser) }
        responseParser = nil
        advance({ $0.finalHead(plan) })
        isStream = plan.isStream
        if !isStream { countFirstByte() }
        clientFraming = plan.clientFraming
        let bodyFraming = plan.bodyFraming
        let wholeBody = isStream ? nil : bufferedWholeBody(bodyFraming)
        if let wholeBody {
            sendWithHead(plan.head, body: wholeBody)
        } else if bodyFraming == .none {
            client.write(plan.head)
        } else {
            client.output.append(plan.head)
        }
        responseDecoder = BodyDecoder(framing: bodyFraming, limits: settings.limits, isRequest: false)
        client.setWriteLowWatermark(isStream ? 0 : settings.clientBuffer / 2)
        if isStream, let up = upstream {
            // A stream may be quiet for long stretches: its relay timer enforces
            // upstream_idle_timeout (ending at a boundary when it can), not a socket timeout.
            // Any other body keeps the timeouts `armResponseTimeout` set (the same values).
            up.connection.setTimeouts(read: nil, write: route.readTimeout)
        }
        if isStream && bodyFraming != .none {
            stream = StreamRelay(exchange: self, services: services, store: snapshot.store, settings: route.stream,
                                 sessionEndEvent: routeAuth.sessionEndEvent, auth: auth)
        }
        // A stream can keep this exchange for hours: the request's header fields are not
        // needed any more (status, framing and keep-alive are), so their storage goes now.
        request.headers = HTTPHeaders()
        if bodyFraming == .none || wholeBody != nil { responseBodyEnded() }
    }

    /// The length of a `Content-Length` body the upstream's input buffer already holds in
    /// full, when it can go to the client as it is (relayed with its length, nothing queued
    /// ahead of it): the usual small response, read with its head.
    private func bufferedWholeBody(_ framing: BodyFraming) -> Int? {
        guard case .contentLength(let length) = framing, clientFraming == .contentLength, client.outputCount == 0,
              let up = upstream, UInt64(up.connection.inputCount) >= length else { return nil }
        return Int(length)
    }

    /// Head and whole body in one gathered write, the body straight from the upstream's input
    /// buffer (no copy into the client's): one `sendmsg` and no end-of-turn flush. What the
    /// socket does not take is queued in the client's output, as on the usual path.
    private func sendWithHead(_ head: [UInt8], body length: Int) {
        guard let up = upstream else { return }
        let input = up.connection.input
        let gather = client.loop.gather
        head.withUnsafeBytes { h in
            gather.append(h)
            input.forEachSegment(length: length) { segment in
                if gather.isFull { client.write(gather) }
                gather.append(segment)
            }
            client.write(gather)
        }
        input.drain(length)
        bytesOut += UInt64(length)
    }

    /// A response that is not an event stream: bytes move from the upstream's input buffer to
    /// the client's output buffer without copying, paced by the client's watermarks.
    private func relayResponseBody() {
        guard let up = upstream, var decoder = responseDecoder, !lifecycle.responseDone else { return }
        let input = up.connection.input
        let out = client.output
        do {
            loop: while true {
                let available = input.count
                switch try decoder.next(prefix: input.peek(max: min(available, 4096)), available: available) {
                case .data(let n):
                    bytesOut += UInt64(n)
                    if clientFraming == .chunked { out.appendChunkHeader(n) }
                    input.move(n, to: out)
                    if clientFraming == .chunked { out.append(ProxyExchange.crlf) }
                case .skip(let n):
                    input.drain(n)
                case .needMore:
                    break loop
                case .end(let skip):
                    input.drain(skip)
                    responseDecoder = decoder
                    responseBodyEnded()
                    return
                }
            }
        } catch {
            responseDecoder = decoder
            fail(.badFraming)
            return
        }
        responseDecoder = decoder
        if !lifecycle.isDone { applyClientBackpressure() }
    }

    // MARK: - Event streams

    /// What ended a relayed batch of stream bytes early.
    private enum StreamBatchEnd {
        /// All used; `queued` bytes wait in the client's output buffer.
        case none(queued: Int)
        case boundaryReached, upstreamEnded, badFraming
    }

    /// Relays one batch of an event stream's upstream bytes: body framing is decoded, event
    /// boundaries tracked, and the payload goes to the client in one gathered write (as one
    /// chunk when the client's framing is chunked), straight from where it was read. Returns
    /// how many bytes were used and why it stopped, leaving the caller to drop the used bytes
    /// before the exchange acts on the stop.
    private func relayStreamBatch(_ bytes: UnsafeRawBufferPointer) -> (used: Int, end: StreamBatchEnd) {
        guard var decoder = responseDecoder, let stream, !lifecycle.responseDone else { return (0, .none(queued: client.outputCount)) }
        let gather = client.loop.gather
        let chunked = clientFraming == .chunked
        // What this read carries leaves as one client chunk, however many upstream chunks
        // framed it (GatherList.openChunk).
        if chunked { gather.openChunk() }
        var at = 0
        var end: StreamBatchEnd?
        do {
            loop: while true {
                // Asked about zero bytes, the decoder answers "need more" unless the body is
                // complete (then: its end), so a read used up is left without that call.
                if at == bytes.count && !decoder.isComplete { break loop }
                let rest = bytes.view(from: at, count: bytes.count - at)
                switch try decoder.next(prefix: rest, available: rest.count) {
                case .data(let n):
                    let (forward, endHere) = stream.scan(rest.view(from: 0, count: n))
                    if gather.isFull {
                        if chunked { gather.closeChunk() }
                        client.write(gather)
                        if chunked { gather.openChunk() }
                    }
                    gather.append(rest.view(from: 0, count: forward))
                    bytesOut += UInt64(forward)
                    at += forward
                    if endHere { end = .boundaryReached; break loop }
                case .skip(let n):
                    at += n
                case .needMore:
                    break loop
                case .end(let skip):
                    at += skip
                    end = .upstreamEnded
                    break loop
                }
            }
        } catch {
            end = .badFraming
        }
        if chunked { gather.closeChunk() }
        let queued = client.write(gather)
        responseDecoder = decoder
        return (at, end ?? .none(queued: queued))
    }

    private func streamBatchDone(_ end: StreamBatchEnd) {
        switch end {
        case .none(let queued):
            stream?.afterRelay(bytesOut: bytesOut)
            if queued > 0 && !lifecycle.isDone { applyClientBackpressure() }
        case .boundaryReached:
            stream?.endAtBoundaryNow()
        case .upstreamEnded:
            stream?.upstreamEnded()
        case .badFraming:
            fail(.badFraming)
        }
    }

    /// Stream bytes that arrived through the upstream's input buffer (with the response head, or
    /// while the request body is still being sent).
    private func relayBufferedStream(_ up: UpstreamConnection) {
        let input = up.connection.input
        let (used, end) = relayStreamBatch(input.peek(max: input.count))
        input.drain(used)
        streamBatchDone(end)
        if case .none = end, !lifecycle.isDone { readStreamDirectly() }
    }

    /// A live stream's upstream reads come straight to this exchange: each read (or TLS
    /// record) is relayed from the loop's scratch buffer before the callback returns, with
    /// nothing buffered between reads. Only once the request is fully sent and the input
    /// buffer is empty, so bytes stay in order; same socket, same transport, plain or TLS.
    private func readStreamDirectly() {
        guard !lifecycle.readsDirectly, lifecycle.requestBodyDone, let up = upstream, up.connection.inputCount == 0 else { return }
        advance({ $0.readDirectly() })
        up.connection.setReceiver(self)
    }

    func connection(_ connection: Connection, received bytes: UnsafeRawBufferPointer) {
        streamBatchDone(relayStreamBatch(bytes).end)
    }

    /// Pauses the upstream while the client is behind. A stream never pauses its upstream:
    /// live events a consumer cannot absorb are cut at `max_client_buffer` instead, so one slow
    /// reader cannot stall a producer or grow memory without bound.
    private func applyClientBackpressure() {
        let pending = client.outputCount
        if isStream {
            if pending > route.stream.maxClientBuffer {
                services.metrics.slowConsumerDisconnects += 1
                stream?.stop(.slowConsumer)
                // Waiting for this reader to drain what is queued is what it cannot do: reset now.
                abort(outcome: .slowConsumer, discardPending: true)
            }
        } else if pending >= settings.clientBuffer, !upstreamPaused, let up = upstream {
            upstreamPaused = true
            up.connection.disableReading()
        }
    }

    func clientDrained() {
        guard upstreamPaused, let up = upstream else { return }
        upstreamPaused = false
        up.connection.enableReading()
        relayResponseBody()
    }

    /// A stream ends on the gateway's initiative: the upstream is dropped (never pooled mid-body)
    /// and the client gets a clean end of body.
    func endStreamCleanly() {
        guard !lifecycle.isDone else { return }
        dropUpstream()
        if clientFraming == .chunked { client.output.append(ProxyExchange.lastChunk) }
        if advance({ $0.streamEndedCleanly() }) { finish() }
    }

    /// The response body is fully relayed. The exchange completes unless the request body is
    /// still coming (see `ExchangeLifecycle.responseBodyEnded`).
    func responseBodyEnded() {
        guard !lifecycle.isDone else { return }
        if clientFraming == .chunked { client.output.append(ProxyExchange.lastChunk) }
        if advance({ $0.responseBodyEnded() }) { finish() }
    }

    /// Response fully handed to the client's output buffer (the lifecycle is done, complete):
    /// log, release the upstream, hand the connection back to the owner.
    private func finish() {
        streamSlot?.giveBack()
        stream?.stop(.upstreamEnd)
        if let up = upstream {
            upstream = nil
            if lifecycle.readsDirectly { up.connection.setReceiver(nil) }
            if responseStatus != nil, upstreamKeepsAlive, lifecycle.requestBodyDone, up.connection.inputCount == 0 {
                up.reused = true
                pool.release(up)
            } else {
                up.owner = nil
                up.connection.close()
            }
        }
        logExchange(status: responseStatus ?? 502)
        owner.exchange(self, reported: .finished(reusable: lifecycle.end == .complete(reusable: true)))
    }

    // MARK: - Failures

    func upstream(_ up: UpstreamConnection, event: ConnectionEvent) {
        if !lifecycle.hasResponseHead {
            let failure = ProxyExchange.failureBeforeHead(event, connected: up.isConnected)
            // A pooled connection that closed or reset (rather than timed out) was most likely
            // closed by the server while idle.
            let stale = up.reused && (!up.connection.isOpen || event != .readTimeout)
            let decision = lifecycle.failedBeforeHead(failure, staleReusedConnection: stale, requestBodyTaken: bytesIn > 0)
            if decision == .retryOnFreshConnection {
                up.owner = nil
                up.connection.close()
                upstream = nil
                connectUpstream(target: up.targetIndex)
                return
            }
            if decision == .tryNextAddress, let next = nextAddress(after: up) {
                let nextText = pool.settings.targets[next.target].addresses[next.address].description
                services.logError("upstream \(up.target) \(failure.logDescription); trying \(nextText) (request \(requestID), route \(route.name))")
                up.owner = nil
                up.connection.close()
                upstream = nil
                connectUpstream(target: next.target, address: next.address)
                return
            }
            services.logError("upstream \(up.target) \(failure.logDescription) (request \(requestID), route \(route.name))")
            fail(failure)
            return
        }
        upstreamEndedMidResponse(event)
    }

    /// Tells the response decoder the upstream closed; true if that ends the body cleanly.
    /// The decoder is copied out and back, as on the relay path: a mutating call on the stored
    /// property itself would make every access to it pay a runtime exclusivity check.
    private func peerClosedResponseBody() -> Bool {
        guard var decoder = responseDecoder else { return false }
        let clean = decoder.peerClosed()
        responseDecoder = decoder
        return clean
    }

    /// The upstream closed, reset or went quiet after its response head.
    private func upstreamEndedMidResponse(_ event: ConnectionEvent) {
        if event == .endOfStream, !lifecycle.responseDone, peerClosedResponseBody() {
            // Close-delimited body: the close is its end. The decoder now reports the end,
            // after whatever is still buffered.
            if stream != nil {
                if let up = upstream, !lifecycle.readsDirectly {
                    relayBufferedStream(up)
                } else {
                    streamBatchDone(relayStreamBatch(UnsafeRawBufferPointer(start: nil, count: 0)).end)
                }
            } else {
                relayResponseBody()
                if !lifecycle.responseDone { responseBodyEnded() }
            }
            return
        }
        if event == .endOfStream && lifecycle.responseDone { return }
        let failure = ProxyExchange.failureMidResponse(event)
        services.logError("upstream \(upstreamTargetText ?? "-") \(failure.logDescription) (request \(requestID))")
        fail(failure)
    }

    /// What a connection event before the response head means for the exchange.
    static func failureBeforeHead(_ event: ConnectionEvent, connected: Bool) -> UpstreamFailure {
        switch event {
        case .readTimeout, .writeTimeout: connected ? .responseTimeout : .connectTimeout
        case .error(let e): connected ? .reset(errno: e) : .connectRefused(errno: e)
        case .tlsFailure(let why): connected ? .tlsBroken(reason: why) : .tlsHandshakeFailed(reason: why)
        case .endOfStream, .connected: .closedBeforeResponse
        }
    }

    /// What a connection event after the response head (and before the body's end) means.
    static func failureMidResponse(_ event: ConnectionEvent) -> UpstreamFailure {
        switch event {
        case .endOfStream, .connected: .truncated
        case .readTimeout, .writeTimeout: .idleMidResponse
        case .tlsFailure(let why): .tlsBroken(reason: why)
        case .error: .resetMidResponse
        }
    }

    /// An upstream failure: a gateway error response while no head was sent, else an abort.
    private func fail(_ failure: UpstreamFailure) {
        failBeforeResponse(status: failure.status, code: failure.errorCode, outcome: .upstream(failure))
    }

    /// Where a request goes after failing to connect to `up`: the target's other addresses in
    /// resolver order, then the upstream's other targets (from their preferred address), each
    /// address once per request, as nginx's `proxy_next_upstream error timeout` does.
    private func nextAddress(after up: UpstreamConnection) -> (target: Int, address: Int)? {
        let targets = pool.settings.targets
        let next = (up.addressIndex + 1) % targets[up.targetIndex].addresses.count
        if next != firstAddressOfTarget { return (up.targetIndex, next) }
        let target = (up.targetIndex + 1) % targets.count
        if target == firstTarget { return nil }
        firstAddressOfTarget = pool.preferredAddress(of: target)
        return (target, firstAddressOfTarget)
    }

    /// Fails before any response byte reached the client: answer with a gateway error.
    private func failBeforeResponse(status: Int, code: String, outcome: ExchangeOutcome) {
        switch advance({ $0.failed() }) {
        case .ignore: return
        case .abort: abortNow(outcome: outcome); return
        case .sendErrorResponse: break
        }
        streamSlot?.giveBack()
        self.outcome = outcome
        dropUpstream()
        let close = !lifecycle.requestBodyDone || status == 413
        logExchange(status: status)
        owner.exchange(self, reported: .failed(.error(status: status, code: code, requestID: requestID, close: close)))
    }

    /// Ends the exchange without a clean end on the client side (RST, no terminating chunk).
    func abort(outcome: ExchangeOutcome, discardPending: Bool = false) {
        guard advance({ $0.aborted() }) else { return }
        abortNow(outcome: outcome, discardPending: discardPending)
    }

    /// The side of an abort the lifecycle already recorded.
    private func abortNow(outcome: ExchangeOutcome, discardPending: Bool = false) {
        streamSlot?.giveBack()
        stream?.stop(.upstreamError)
        self.outcome = outcome
        dropUpstream()
        logExchange(status: responseStatus ?? 502)
        owner.exchange(self, reported: .aborted(discardPending: discardPending))
    }

    private func dropUpstream() {
        finalResponseTimer = nil
        if let up = upstream {
            up.owner = nil
            up.connection.close()
            upstream = nil
        }
    }

    // MARK: - Client side events

    /// The client half-closed. For a stream that means it left; otherwise the response still goes out.
    func clientEnded() {
        if isStream || !lifecycle.hasResponseHead && !lifecycle.requestBodyDone {
            clientGone()
            owner.exchange(self, reported: .clientLeft)
        } else {
            owner.exchange(self, reported: .pauseClientReads)
        }
    }

    func clientTimedOut() {
        if !lifecycle.requestBodyDone {
            failBeforeResponse(status: 408, code: "request_timeout", outcome: .clientBodyTimeout)
        } else {
            owner.exchange(self, reported: .resumeClientReads)
        }
    }

    /// The client is gone: the upstream connection is closed at once (never pooled).
    func clientGone() {
        guard advance({ $0.clientLeft() }) else { return }
        streamSlot?.giveBack()
        stream?.stop(.client)
        outcome = .clientGone
        dropUpstream()
        logExchange(status: responseStatus ?? 499)
    }

    func beginDrain() {
        advance({ $0.drain() })
        stream?.requestEnd(.draining)
    }

    /// Appends gateway-made bytes (keepalives, hints, final events) in the client's framing.
    func writeToClient(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        let gather = client.loop.gather
        bytes.withUnsafeBytes { b in
            if clientFraming == .chunked { gather.appendChunk(b) } else { gather.append(b) }
            client.write(gather)
        }
    }

    private func logExchange(status: Int) {
        countEnd(status: status)
        // With the access log off, formatting the time and copying the fields is all waste.
        guard services.logsAccess else { return }
        services.log(AccessLogRecord(
            time: services.logTime(), requestID: requestID, route: route.name, method: request.method,
            path: request.path, status: status, bytesIn: bytesIn, bytesOut: bytesOut,
            durationMicros: EventLoop.now().since(startTime).microseconds, upstream: upstreamTargetText,
            user: auth?.identity.userID, tenant: auth?.identity.tenantID, clientIP: clientIP, outcome: outcome?.logText))
    }

    static let crlf: [UInt8] = [0x0D, 0x0A]
    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}
