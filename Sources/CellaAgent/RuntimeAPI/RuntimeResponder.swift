import CellaModel
import NIOCore
import NIOHTTP1

/// Answers one Runtime API request, from any thread: the write hops to the connection's event
/// loop. A `GET /next` keeps its responder until an invocation arrives (the long poll).
struct RuntimeResponder: Sendable {
    let channel: any Channel
    let keepAlive: Bool

    func send(_ status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: ByteBuffer? = nil) {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Length", value: String(body?.readableBytes ?? 0))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        let channel = self.channel
        let keepAlive = self.keepAlive
        let write: @Sendable () -> Void = {
            channel.write(HTTPServerResponsePart.head(head), promise: nil)
            if let body { channel.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil) }
            let done = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
            if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
        }
        if channel.eventLoop.inEventLoop { write() } else { channel.eventLoop.execute(write) }
    }

    /// `{"errorMessage": ..., "errorType": ...}`, the Runtime API's error shape.
    func sendError(_ status: HTTPResponseStatus, type: String, message: String) {
        let json = #"{"errorMessage":"\#(JSONText.escape(message))","errorType":"\#(JSONText.escape(type))"}"#
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        send(status, headers: headers, body: ByteBuffer(string: json))
    }
}
