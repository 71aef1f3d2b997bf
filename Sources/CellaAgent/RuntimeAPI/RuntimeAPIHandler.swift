import NIOCore
import NIOHTTP1

/// The Lambda Runtime API 2018-06-01 for one instance, on the connections its runtime opens to
/// `127.0.0.1:9001` inside its network namespace. Which instance is speaking is known from the
/// listening socket it reached, never from anything the runtime sends.
final class RuntimeAPIHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let prefix = "/2018-06-01/runtime/"
    private let instance: Instance
    private let maxBodyBytes: Int
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var tooLarge = false

    init(instance: Instance, maxBodyBytes: Int) {
        self.instance = instance
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
            tooLarge = false
        case .body(var chunk):
            if tooLarge { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > maxBodyBytes {
                tooLarge = true
                body = nil
            } else if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let responder = RuntimeResponder(channel: context.channel, keepAlive: head.isKeepAlive)
            if tooLarge {
                responder.sendError(.payloadTooLarge, type: "RequestEntityTooLarge",
                                    message: "the body exceeds \(maxBodyBytes) bytes")
                instance.runtimeSentTooLarge(head.uri)
                return
            }
            route(head, body: body ?? ByteBuffer(), responder: responder)
            body = nil
        }
    }

    private func route(_ head: HTTPRequestHead, body: ByteBuffer, responder: RuntimeResponder) {
        var path = Substring(head.uri)
        if let q = path.firstIndex(of: "?") { path = path[..<q] }
        guard path.hasPrefix(Self.prefix) else {
            return responder.sendError(.notFound, type: "NotFound", message: "unknown path \(path)")
        }
        let rest = path.dropFirst(Self.prefix.count)
        let errorType = head.headers.first(name: "Lambda-Runtime-Function-Error-Type")
        switch (head.method, rest) {
        case (.GET, "invocation/next"):
            instance.runtimeAsksNext(responder)
        case (.POST, "cella/template/park"):
            instance.runtimeParks(responder)
        case (.POST, "init/error"):
            instance.runtimeReportsInitError(body: body, errorType: errorType, responder: responder)
        case (.POST, _) where rest.hasPrefix("invocation/"):
            let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 3 else { fallthrough }
            let id = String(parts[1])
            switch parts[2] {
            case "response": instance.runtimeResponds(id: id, body: body, responder: responder)
            case "error": instance.runtimeReportsError(id: id, body: body, errorType: errorType, responder: responder)
            default: responder.sendError(.notFound, type: "NotFound", message: "unknown path \(path)")
            }
        default:
            responder.sendError(.notFound, type: "NotFound", message: "unknown path \(head.method) \(path)")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
