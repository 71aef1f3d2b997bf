import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTPTypes
import ServiceLifecycle
import Synchronization

/// A Hummingbird application whose hottest routes skip Hummingbird's connection loop.
///
/// Hummingbird hands every request to a task that iterates the connection's parts through an
/// async channel and writes the answer back through it: per request, several hand-offs between
/// the event loop and that task, and a body read as an async stream. On the invoke routes, on the
/// path of every invocation, skipping it took about 11 % off the one-connection median through
/// the controller (docs/benchmarks.md). `DirectResponder` sits in the connection's pipeline in front of
/// Hummingbird and answers the requests `accepts` picks itself: it gathers the body on the event
/// loop, calls the same responder (router, middleware and all) once in a task, and writes the
/// answer from the loop. Every other request — and any body that is not a declared
/// `Content-Length` of at most `maxBody` bytes (chunked, large, a bundle upload) — streams
/// through Hummingbird as before, so the server never gathers more than `maxBody` bytes per
/// connection for a caller it has not authenticated.
public enum DirectRoutes {
    /// Bodies gathered in the pipeline: up to this declared length (64 KiB).
    public static let defaultMaxBody = 64 * 1024

    /// An application answering `accepts`'s requests through `DirectResponder` and every other
    /// one through Hummingbird, both with `responder`. As a service it ends once Hummingbird's
    /// server has and every answer begun here is done (a client that left does not cut an
    /// invocation short, as with Hummingbird's own handlers).
    public static func application<Responder: HTTPResponder>(
        responder: Responder,
        accepts: @escaping @Sendable (HTTPRequest) -> Bool,
        maxBody: Int = defaultMaxBody,
        configuration: ApplicationConfiguration,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
        logger: Logger
    ) -> some Service where Responder.Context: RequestContext, Responder.Context.Source == ApplicationRequestContextSource {
        let serverName = configuration.serverName
        let inFlight = InFlight()
        let app = Application(
            responder: responder,
            server: .http1(configuration: .init(additionalChannelHandlers: [
                DirectResponder(
                    responder: responder, accepts: accepts, maxBody: maxBody, serverName: serverName, logger: logger,
                    inFlight: inFlight)
            ])),
            configuration: configuration,
            onServerRunning: onServerRunning,
            logger: logger)
        return Server(app: app, inFlight: inFlight)
    }

    struct Server<Responder: HTTPResponder>: Service
    where Responder.Context: RequestContext, Responder.Context.Source == ApplicationRequestContextSource {
        let app: Application<Responder>
        let inFlight: InFlight

        /// Waits for answers begun even when cancelled: an invocation that has started runs to
        /// its end (Hummingbird would cancel its own handlers' tasks instead).
        func run() async throws {
            do { try await app.run() } catch {
                await inFlight.idle()
                throw error
            }
            await inFlight.idle()
        }
    }

    /// Answers begun and not yet done, and who waits for there to be none.
    final class InFlight: Sendable {
        private let state = Mutex<(count: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))

        func begin() { state.withLock { $0.count += 1 } }

        func end() {
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.count -= 1
                guard state.count == 0 else { return [] }
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }

        func idle() async {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.count == 0 { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    /// Whether a `Connection` header's value holds the `close` option.
    static func hasCloseToken(_ value: String) -> Bool {
        value.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "close" }
    }

    /// Whether `path` (query and all) is `pattern`'s segments, where `*` stands for any one
    /// non-empty segment: `matches("/v1/functions/f/invoke?x=1", ["v1", "functions", "*", "invoke"])`.
    public static func matches(_ path: String?, _ pattern: [Substring]) -> Bool {
        guard var rest = path?.utf8[...], rest.first == UInt8(ascii: "/") else { return false }
        if let query = rest.firstIndex(of: UInt8(ascii: "?")) { rest = rest[..<query] }
        rest = rest.dropFirst()
        for (i, expected) in pattern.enumerated() {
            let end = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            let segment = rest[..<end]
            if segment.isEmpty || (expected != "*" && !segment.elementsEqual(expected.utf8)) { return false }
            if i == pattern.count - 1 { return end == rest.endIndex }
            guard end != rest.endIndex else { return false }
            rest = rest[rest.index(after: end)...]
        }
        return false
    }
}

/// Answers the requests `accepts` picks inside the connection's pipeline (see `DirectRoutes`),
/// and passes every other part on to Hummingbird.
///
/// Answers leave in the order requests came, as HTTP/1.1 requires even of a client that
/// pipelines: a request of its own waits while Hummingbird still owes an answer, and anything
/// after one of its own — a request, a decoding error, the peer's half-close — waits for that
/// answer; while anything waits, the connection is not read. An invocation is never started on a
/// connection that is about to close: an answer that cannot be delivered must not be run.
final class DirectResponder<Responder: HTTPResponder>: ChannelDuplexHandler, RemovableChannelHandler
where Responder.Context: RequestContext, Responder.Context.Source == ApplicationRequestContextSource {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Inbound {
        /// Expecting a head.
        case between
        /// The parts after a head handed to Hummingbird go to it too.
        case passing
        /// Gathering the body of a request answered here.
        case gathering(HTTPRequest, ByteBuffer)
    }

    /// What comes in, in the order it came.
    private enum Event {
        case part(HTTPRequestPart)
        /// A decoding error: Hummingbird answers it with 400 and closes.
        case error(any Error)
        /// The peer's half-close: Hummingbird's loop ends, and the connection with it.
        case inputClosed
        /// A graceful shutdown: Hummingbird closes once it owes no answer.
        case quiesce
    }

    private let responder: Responder
    private let accepts: @Sendable (HTTPRequest) -> Bool
    private let maxBody: Int
    private let serverName: String?
    private let logger: Logger
    private let inFlight: DirectRoutes.InFlight

    private var inbound = Inbound.between
    /// Answers Hummingbird still owes (heads passed on whose `.end` has not come back).
    private var owedByHummingbird = 0
    /// A request of ours is being gathered, run or written (until its last byte left).
    private var answering = false
    /// Events that came while what came before them was unanswered, in order.
    private var waiting = CircularBuffer<Event>()
    /// A read asked for while events wait; done once they are through.
    private var readHeld = false
    /// A graceful shutdown began: an answer of ours under way is the connection's last.
    private var quiescing = false
    /// Hummingbird was told of the shutdown (or the peer's half-close, or an error) and will close
    /// the connection once it owes nothing: no request of ours may start now.
    private var handedOver = false
    /// This handler closed the connection (or is about to); whatever comes is dropped.
    private var closing = false
    private var context: ChannelHandlerContext?

    init(responder: Responder, accepts: @escaping @Sendable (HTTPRequest) -> Bool, maxBody: Int, serverName: String?,
         logger: Logger, inFlight: DirectRoutes.InFlight) {
        self.responder = responder
        self.accepts = accepts
        self.maxBody = maxBody
        self.serverName = serverName
        self.logger = logger
        self.inFlight = inFlight
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arrive(.part(unwrapInboundIn(data)), context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        arrive(.error(error), context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            arrive(.quiesce, context)
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            arrive(.inputClosed, context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func read(context: ChannelHandlerContext) {
        if closing { return }
        if waiting.isEmpty { context.read() } else { readHeld = true }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Only Hummingbird's answers come through here; ours are written from this handler.
        let ended: Bool
        if case .end = unwrapOutboundIn(data) { ended = true } else { ended = false }
        context.write(data, promise: promise)
        if ended {
            // Never below zero: a 400 for a decoding error answers no head of Hummingbird's.
            owedByHummingbird = max(0, owedByHummingbird - 1)
            release(context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        waiting.removeAll()
        context.fireChannelInactive()
    }

    private func arrive(_ event: Event, _ context: ChannelHandlerContext) {
        if closing { return }
        if waiting.isEmpty, handle(event, context) { return }
        waiting.append(event)
    }

    /// Handles `event` now, or answers false when it has to wait for an answer still owed.
    private func handle(_ event: Event, _ context: ChannelHandlerContext) -> Bool {
        switch event {
        case .part(let part):
            return take(part, context)
        case .quiesce where answering:
            // Ours is the connection's last answer (`quiescing` is set): it closes it, and the
            // body still being gathered must keep flowing.
            return true
        case .error, .inputClosed, .quiesce:
            if case .gathering = inbound {
                // The peer left, or broke HTTP, before its body was whole: the request is dropped
                // unrun, and Hummingbird ends the connection.
                inbound = .between
                answering = false
            }
            // Hummingbird would end the connection while an answer of ours is under way.
            if answering { return false }
            handedOver = true
            switch event {
            case .error(let error): context.fireErrorCaught(error)
            case .inputClosed: context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            default: context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            }
            return true
        }
    }

    private func take(_ part: HTTPRequestPart, _ context: ChannelHandlerContext) -> Bool {
        switch (inbound, part) {
        case (.between, .head(let head)):
            if answering { return false }
            if accepts(head), head.headerFields[.transferEncoding] == nil,
               let length = head.headerFields[.contentLength].flatMap({ Int($0) }), (0...maxBody).contains(length) {
                if owedByHummingbird > 0 { return false }
                if handedOver {
                    // Hummingbird is closing the connection (right after the answer it is
                    // writing, which a close from here would cut): the request is not run, and
                    // the client may send it again. (A shutdown still waiting here lets it run;
                    // its answer then closes the connection.)
                    closing = true
                    waiting.removeAll()
                    return true
                }
                answering = true
                inbound = .gathering(head, context.channel.allocator.buffer(capacity: min(length, 4096)))
            } else {
                owedByHummingbird += 1
                inbound = .passing
                // After a `Connection: close` request NIO's decoder passes nothing on, so no
                // request of ours can follow one of Hummingbird's that ends the connection.
                context.fireChannelRead(wrapInboundOut(part))
            }
        case (.gathering(let head, var body), .body(var chunk)):
            // The decoder keeps to the declared length; more would be a broken decoder or peer.
            guard body.readableBytes + chunk.readableBytes <= maxBody else {
                close(context)
                return true
            }
            inbound = .between  // not holding a second reference while appending
            body.writeBuffer(&chunk)
            inbound = .gathering(head, body)
        case (.gathering(let head, let body), .end):
            inbound = .between
            answer(Request(head: head, body: RequestBody(buffer: body)), context)
        case (.passing, .end):
            inbound = .between
            context.fireChannelRead(wrapInboundOut(part))
        default:
            // The rest of a request Hummingbird has; or a part the HTTP/1 decoder never sends out
            // of order, which Hummingbird answers as it always did.
            context.fireChannelRead(wrapInboundOut(part))
        }
        return true
    }

    /// Lets waiting events through as far as the answers owed allow, then reads on.
    private func release(_ context: ChannelHandlerContext) {
        guard !waiting.isEmpty, !closing else { return }
        while let event = waiting.popFirst() {
            if !handle(event, context) {
                waiting.prepend(event)
                break
            }
            if closing { return }
        }
        // Hummingbird's async channel hands what it was given on at a read's completion; parts
        // passed on here, outside a read, need one of their own.
        context.fireChannelReadComplete()
        if waiting.isEmpty, readHeld {
            readHeld = false
            context.read()
        }
    }

    private func close(_ context: ChannelHandlerContext) {
        closing = true
        waiting.removeAll()
        context.close(promise: nil)
    }

    private func answer(_ request: Request, _ context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let channel = context.channel
        let this = NIOLoopBound(self, eventLoop: loop)
        let (responder, logger, serverName, inFlight) = (responder, logger, serverName, inFlight)
        let close = request.headers[.connection].map(DirectRoutes.hasCloseToken) ?? false
        inFlight.begin()
        // Cella's daemons run tasks on NIO's loops (useEventLoopsAsConcurrencyExecutor), and a
        // task started on a loop runs there, and resumes wherever what it awaited completed: on
        // this loop for a controller's call to an agent over HTTP; on the runtime's loop when the
        // instance is served by another loop (an agent's route, or `cella up`'s controller calling
        // its agent in the process), and the answer is then handed back here.
        Task {
            defer { inFlight.end() }
            var response: Response
            do {
                response = try await responder.respond(
                    to: request, context: Responder.Context(source: .init(channel: channel, logger: logger)))
            } catch {
                logger.debug("unanswered error", metadata: ["error.type": "\(String(reflecting: type(of: error)))"])
                response = Response(status: .internalServerError, body: .init())
            }
            response.headers[.date] = HTTPDate.now()
            if let serverName { response.headers[.server] = serverName }
            if close { response.headers[.connection] = "close" }
            let body = BodyCollector()
            do { try await response.body.write(body) } catch {
                // A streamed body that failed: no head was sent; the connection goes.
                channel.close(promise: nil)
                return
            }
            let head = response.head
            let buffers = body.buffers.list
            if loop.inEventLoop {
                this.value.send(head, buffers, close: close)
            } else {
                loop.execute { this.value.send(head, buffers, close: close) }
            }
        }
    }

    private func send(_ head: HTTPResponse, _ body: [ByteBuffer], close: Bool) {
        guard let context, !closing else { return }
        var head = head
        // A graceful shutdown came while this answer was being made: it is the connection's last.
        let close = close || quiescing
        if close { head.headerFields[.connection] = "close" }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        for buffer in body { context.write(wrapOutboundOut(.body(buffer)), promise: nil) }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        if close {
            closing = true
            waiting.removeAll()
        }
        // What waits goes on once the answer has left (at once when the socket took it whole):
        // a half-close or shutdown handed to Hummingbird earlier would close under its tail.
        written.futureResult.assumeIsolated().whenComplete { _ in
            self.answering = false
            if self.closing || self.quiescing {
                self.closing = true
                self.waiting.removeAll()
                context.close(promise: nil)
                return
            }
            self.release(context)
        }
    }
}

/// Gathers a response body's buffers (an invoke answer is one buffer of at most the payload
/// limit). `ResponseBody.write` consumes its writer, so the buffers live in a box.
private struct BodyCollector: ResponseBodyWriter {
    final class Buffers: @unchecked Sendable { var list: [ByteBuffer] = [] }
    let buffers = Buffers()

    func write(_ buffer: ByteBuffer) async throws { buffers.list.append(buffer) }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// The `Date` header's value (RFC 9110 IMF-fixdate), made at most once a second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))

    static func now() -> String {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        let second = t.tv_sec
        return cache.withLock { cached in
            if cached.second == second { return cached.text }
            var secs = time_t(second)
            var tm = tm()
            gmtime_r(&secs, &tm)
            let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
            let text = "\(days[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) "
                + "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
            cached = (second, text)
            return text
        }
    }
}
