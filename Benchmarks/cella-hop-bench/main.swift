// A bare HTTP/1.1 hop on SwiftNIO: every request on a client connection is sent on, as it came,
// to one upstream over a kept-alive connection of its own (made on the same event loop), and the
// upstream's answer is sent back. No routing, authentication, JSON check or placement: the floor
// of what any HTTP hop written on NIO costs on this machine, for scripts/bench/controller.sh to
// run beside the controller ("the controller adds N µs; a bare hop adds M µs").
// Usage: cella-hop-bench PORT UPSTREAM_HOST UPSTREAM_PORT
import NIOCore
import NIOHTTP1
import NIOPosix

let arguments = CommandLine.arguments
guard arguments.count == 4, let port = Int(arguments[1]), let upstreamPort = Int(arguments[3]) else {
    print("usage: cella-hop-bench PORT UPSTREAM_HOST UPSTREAM_PORT")
    exit(2)
}
let upstream = (host: arguments[2], port: upstreamPort)

/// One client connection: gathers a request, relays it upstream, relays the answer back. Requests
/// on one connection are relayed one at a time (the server pipeline's assistance holds the next).
final class Relay: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let target: (host: String, port: Int)
    init(_ target: (host: String, port: Int)) { self.target = target }

    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var upstream: (channel: Channel, collector: Collector)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = context.channel.allocator.buffer(capacity: 0)
        case .body(var chunk):
            body?.writeBuffer(&chunk)
        case .end:
            guard var head, let body else { return }
            head.headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
            head.headers.remove(name: "Transfer-Encoding")
            send(head, body, context)
        }
    }

    private func send(_ head: HTTPRequestHead, _ body: ByteBuffer, _ context: ChannelHandlerContext) {
        let client = NIOLoopBound(context, eventLoop: context.eventLoop)
        let answer = { @Sendable (parts: [HTTPClientResponsePart]) in
            let context = client.value
            for part in parts {
                switch part {
                case .head(let h):
                    context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: h.status, headers: h.headers))), promise: nil)
                case .body(let b):
                    context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(b))), promise: nil)
                case .end(let t):
                    context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(t)), promise: nil)
                }
            }
        }
        let write = { @Sendable (channel: Channel) in
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        if let upstream {
            upstream.collector.onAnswer = answer
            write(upstream.channel)
            return
        }
        let collector = Collector()
        collector.onAnswer = answer
        // The upstream gone (the agent closed it): this connection goes too; wrk connects anew.
        collector.onClose = { @Sendable in client.value.close(promise: nil) }
        let connect = ClientBootstrap(group: context.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: target.host, port: target.port)
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        connect.whenComplete { result in
            switch result {
            case .success(let channel):
                this.value.upstream = (channel, collector)
                write(channel)
            case .failure:
                client.value.close(promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream?.channel.close(promise: nil)
        context.fireChannelInactive()
    }
}

/// The upstream side: gathers one answer and hands it over whole.
final class Collector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    var onAnswer: (@Sendable ([HTTPClientResponsePart]) -> Void)?
    var onClose: (@Sendable () -> Void)?
    private var parts: [HTTPClientResponsePart] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        parts.append(part)
        if case .end = part {
            let done = parts
            parts = []
            onAnswer?(done)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        onClose?()
        context.fireChannelInactive()
    }
}

let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true)
            try channel.pipeline.syncOperations.addHandler(Relay(upstream))
        }
    }
    .bind(host: "127.0.0.1", port: port).wait()
print("cella-hop-bench: 127.0.0.1:\(port) -> \(upstream.host):\(upstream.port)")
try server.closeFuture.wait()
