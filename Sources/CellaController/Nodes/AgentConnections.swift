import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Keep-alive HTTP/1.1 connections to agents for the invoke path, made with NIO directly: one
/// channel per call in flight, reused from an idle pool, each answer collected whole by a
/// handler in the channel. A call from a task on an event loop (Cella runs Swift concurrency on
/// NIO's loops) takes an idle connection on that loop, or makes a new one there, never one idle
/// on another loop: the call then stays on one thread from the request that caused it to the
/// answer. Taking any idle connection, as before, cost 4.2–5.0 voluntary context switches per
/// invocation in the controller instead of about 2.0 whenever the two differed
/// (docs/benchmarks.md).
///
/// This is the invoke path's client because the general one (AsyncHTTPClient) cost about 350 µs
/// of CPU per call here (docs/benchmarks.md): its pool state machine, a tracing span, and the
/// hops between its tasks and its connection's loop. Only `http://host:port` addresses are
/// served; `AgentClient` sends anything else through AsyncHTTPClient.
final class AgentConnections: Sendable {
    /// The error a call fails with, already sorted into "never reached the agent" and "may have".
    typealias CallError = AgentClient.CallError

    private struct Idle {
        var channel: any Channel
        var since: NIODeadline
    }

    private let group: any EventLoopGroup
    private let idle = Mutex<[String: [Idle]]>([:])
    private let closed = Atomic<Bool>(false)
    /// Idle connections kept per agent and event loop; more are closed when they come back.
    let maxIdlePerAgent: Int
    /// An idle connection older than this is closed rather than reused (before any server or
    /// proxy between would).
    let idleTimeout: TimeAmount
    let connectTimeout: TimeAmount

    init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxIdlePerAgent: Int = 256,
         idleTimeout: TimeAmount = .seconds(50), connectTimeout: TimeAmount = .seconds(1)) {
        self.group = group
        self.maxIdlePerAgent = maxIdlePerAgent
        self.idleTimeout = idleTimeout
        self.connectTimeout = connectTimeout
    }

    /// `host` and `port` of an `http://host:port` address (no path), or nil.
    static func endpoint(_ address: String) -> (host: String, port: Int)? {
        guard address.hasPrefix("http://") else { return nil }
        let rest = address.dropFirst(7)
        guard let colon = rest.lastIndex(of: ":"), !rest.contains("/"),
              let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// Sends one request and collects the whole answer.
    func call(
        host: String, port: Int, head: HTTPRequestHead, body: ByteBuffer?, timeout: TimeAmount, maxResponseBytes: Int
    ) async throws(CallError) -> AgentClient.Answer {
        let key = "\(host):\(port)"
        let channel = try await checkout(key, host: host, port: port)
        let promise = channel.eventLoop.makePromise(of: AgentClient.Answer.self)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            channel.pipeline.fireUserInboundEventTriggered(AgentCallHandler.DeadlinePassed())
        }
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            // The request did not go out whole (a pooled connection closed under it): the agent
            // cannot have run it. A no-op when the handler has already failed the call.
            promise.fail(CallError.notAccepted("sending to \(key): \(error)"))
        }
        channel.writeAndFlush(AgentCallHandler.Call(head: head, body: body, promise: promise, maxResponseBytes: maxResponseBytes),
                              promise: written)
        let answer: AgentClient.Answer
        do {
            answer = try await promise.futureResult.get()
        } catch {
            deadline.cancel()
            channel.close(promise: nil)
            throw (error as? CallError) ?? .failed("\(error)")
        }
        deadline.cancel()
        checkin(key, channel, keepAlive: answer.keepAlive)
        return answer
    }

    /// Closes every idle connection; calls after this connect anew and close when done.
    func close() {
        closed.store(true, ordering: .relaxed)
        let all = idle.withLock { idle in
            defer { idle.removeAll() }
            return idle.values.flatMap { $0 }
        }
        for entry in all { entry.channel.close(promise: nil) }
    }

    private func checkout(_ key: String, host: String, port: Int) async throws(CallError) -> any Channel {
        let now = NIODeadline.now()
        let current = MultiThreadedEventLoopGroup.currentEventLoop
        var stale: [any Channel] = []
        let reused: (any Channel)? = idle.withLock { idle in
            // Taken out while it is worked on: edited in place, not copied on write.
            guard var entries = idle.removeValue(forKey: key) else { return nil }
            defer { idle[key] = entries }
            entries.removeAll { entry in
                guard entry.channel.isActive && now - entry.since < idleTimeout else {
                    stale.append(entry.channel)
                    return true
                }
                return false
            }
            // A connection on the caller's own event loop: the request, the agent's answer and
            // the caller's resumption then stay on one thread. Off a loop, any will do.
            guard let current else { return entries.popLast()?.channel }
            guard let index = entries.lastIndex(where: { $0.channel.eventLoop === current }) else { return nil }
            return entries.remove(at: index).channel
        }
        for channel in stale { channel.close(promise: nil) }
        if let reused { return reused }
        // None idle on this loop: a new one here, rather than one on another loop, which would
        // cost two thread hand-offs on every call it carries.
        let loop = current ?? group.next()
        do {
            return try await ClientBootstrap(group: loop)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(AgentCallHandler())
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            // Nothing was sent: the agent never saw the request.
            throw .notAccepted("connecting to \(key): \(error)")
        }
    }

    private func checkin(_ key: String, _ channel: any Channel, keepAlive: Bool) {
        guard keepAlive, channel.isActive, !closed.load(ordering: .relaxed) else {
            channel.close(promise: nil)
            return
        }
        // Counted per loop: calls take only connections on their own loop, so a burst on one
        // loop must not fill the pool for the others.
        let loop = channel.eventLoop
        let kept = idle.withLock { idle in
            guard idle[key, default: []].lazy.filter({ $0.channel.eventLoop === loop }).count < maxIdlePerAgent else { return false }
            idle[key, default: []].append(Idle(channel: channel, since: .now()))
            return true
        }
        if !kept { channel.close(promise: nil) }
    }
}

/// One call at a time on one connection: writes the request, collects the answer (bounded), and
/// completes the call's promise exactly once — with the answer, or with `failed` when the
/// connection breaks, the answer is too large or the deadline passes (the request was sent, so
/// the agent may have acted on it).
final class AgentCallHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Call
    typealias OutboundOut = HTTPClientRequestPart

    struct Call: Sendable {
        var head: HTTPRequestHead
        var body: ByteBuffer?
        var promise: EventLoopPromise<AgentClient.Answer>
        var maxResponseBytes: Int
    }

    struct DeadlinePassed {}

    private var pending: Call?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        guard pending == nil else {
            call.promise.fail(AgentClient.CallError.notAccepted("connection busy"))
            return
        }
        pending = call
        head = nil
        body.clear()
        var requestHead = call.head
        requestHead.headers.replaceOrAdd(name: "Content-Length", value: String(call.body?.readableBytes ?? 0))
        context.write(wrapOutboundOut(.head(requestHead)), promise: nil)
        if let payload = call.body, payload.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(payload))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let received):
            head = received
        case .body(var part):
            guard let call = pending else { return }
            guard body.readableBytes + part.readableBytes <= call.maxResponseBytes else {
                finish(.failure(AgentClient.CallError.failed("the agent's answer is over \(call.maxResponseBytes) bytes")))
                context.close(promise: nil)
                return
            }
            body.writeBuffer(&part)
        case .end:
            guard let received = head else {
                finish(.failure(AgentClient.CallError.failed("the agent's answer ended without a head")))
                context.close(promise: nil)
                return
            }
            finish(.success(AgentClient.Answer(
                status: Int(received.status.code), headers: received.headers, body: body, keepAlive: received.isKeepAlive)))
            body = ByteBuffer()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DeadlinePassed {
            if pending != nil {
                finish(.failure(AgentClient.CallError.failed("the agent did not answer before the deadline")))
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(AgentClient.CallError.failed("the agent closed the connection before answering")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(AgentClient.CallError.failed("\(error)")))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<AgentClient.Answer, any Error>) {
        guard let call = pending else { return }
        pending = nil
        head = nil
        call.promise.completeWith(result)
    }
}
