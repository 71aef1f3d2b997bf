import CellaModel
import CellaSandbox
import DequeModule
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// What an invocation produced.
enum InvocationResult: Sendable {
    /// The function's result, as the runtime posted it.
    case response(ByteBuffer)
    /// The function's error object, as the runtime posted it, and its type.
    case functionError(ByteBuffer, errorType: String)
    /// The platform ended the invocation: timeout, crash, OOM or a failed init.
    case failure(InvocationOutcome, FunctionErrorBody)
}

/// One invocation on its way to a runtime.
struct PendingInvocation: Sendable {
    let requestId: String
    let payload: ByteBuffer
    let deadlineMs: Int64
    let clientContext: String?
    let cognitoIdentity: String?
    let traceId: String?
}

/// One running function instance: a sandbox whose runtime talks to this object over the Runtime
/// API. It serves one invocation at a time. All state sits under one lock, touched briefly from
/// the Runtime API's event loop, the invoking task, the log reader and the exit watcher.
final class Instance: Sendable {
    enum InitOutcome: Sendable {
        case ready(durationMs: Double)
        /// A template's runtime finished its init and parked (docs/runtime-snapshots.md).
        case parked(durationMs: Double)
        case failed(FunctionErrorBody)
    }

    let id: String
    let function: DeployedFunction
    /// Forked from a template: it dies with the template.
    let isClone: Bool
    private let logs: LogStore
    private let region: String
    /// When the instance was started (for a held one: released); its init is timed from here.
    private let started = Mutex(ContinuousClock.now)
    private let state = Mutex(State())
    /// For a template: the seccomp program its park is answered with, which each clone installs.
    private let templateProgram: [UInt8]?

    private struct Current {
        let request: PendingInvocation
        var delivered = false
        let continuation: CheckedContinuation<(InvocationResult, [String]), Never>
        var timeout: Scheduled<Void>?
        var lines: [String] = []
        var lineBytes = 0
    }

    private enum Phase { case initializing, ready, parked, dead }

    private struct State {
        var phase = Phase.initializing
        var parked: RuntimeResponder?
        var current: Current?
        var initWaiters: [CheckedContinuation<InitOutcome, Never>] = []
        var initOutcome: InitOutcome?
        var recent = Deque<String>()
        var process: (any SandboxedProcess)?
        var peakMemory: PeakMemoryReader?
        var server: (any Channel)?
        var output: OutputPipe?
        var exit: SandboxExit?
        var onExit: (@Sendable (Instance) -> Void)?
        /// A clone's Runtime API connection (a second descriptor of it), until its go line is sent.
        var goSocket: Int32?
        /// False for a clone until its go line is out: a `/next` it asks before then waits parked
        /// and does not end its init (docs/runtime-snapshots.md, step 4).
        var letGo = true
    }

    /// Lines kept for crash reports.
    static let recentLines = 20
    /// Per-invocation lines kept for the log tail.
    static let tailBytes = 8 * 1024

    private init(id: String, function: DeployedFunction, logs: LogStore, region: String, templateProgram: [UInt8]? = nil,
                 isClone: Bool = false) {
        self.id = id
        self.function = function
        self.isClone = isClone
        self.logs = logs
        self.region = region
        self.templateProgram = templateProgram
    }

    /// Starts a sandbox for `function` with its Runtime API socket ready, and returns at once; the
    /// runtime's init runs on (see `waitUntilReady`).
    /// - Parameter template: makes the instance a template: the control socket's end that becomes
    ///   its fd 3 (`CELLA_TEMPLATE_FD`), and the seccomp program its clones install.
    /// - Parameter held: make the sandbox ahead of need, stopped before its runtime's exec;
    ///   `releaseHeld` starts the runtime.
    /// - Throws: `AgentError` `.internal` when the sandbox cannot be made.
    static func start(
        id: String, function: DeployedFunction, environment: [String: String],
        resources: SandboxSpec.Resources, tmpMiB: Int, maxPayloadBytes: Int,
        launcher: SandboxLauncher, threadPool: NIOThreadPool, group: any EventLoopGroup,
        logs: LogStore, region: String, template: (control: Int32, program: [UInt8])? = nil,
        networks: PreparedNetworks? = nil, cgroups: PreparedCgroups? = nil, held: Bool = false,
        onExit: @escaping @Sendable (Instance) -> Void
    ) async throws(AgentError) -> Instance {
        let instance = Instance(id: id, function: function, logs: logs, region: region, templateProgram: template?.program)
        instance.state.withLock { $0.onExit = onExit }
        let launched: Result<(Sandbox, OutputPipe, Int32), SandboxError>
        do {
            // Blocking (clone, the child's setup): on the thread pool, whose threads live as long
            // as the agent, which PR_SET_PDEATHSIG needs (the parent is the launching thread).
            launched = try await threadPool.runIfActive { [weak instance] in
                Result { () throws(SandboxError) -> (Sandbox, OutputPipe, Int32) in
                    let network: NetworkNamespace
                    let listener: Int32
                    if let prepared = networks?.take(refillingOn: threadPool) {
                        (network, listener) = (prepared.namespace, prepared.listener)
                    } else {
                        network = try NetworkNamespace()
                        listener = try network.listenOnLoopback(port: 9001)
                    }
                    let output = try OutputPipe { [weak instance] line in instance?.handleLog(line) }
                    var spec = SandboxSpec(
                        id: id, command: [function.bootstrap],
                        rootfs: .init(layers: function.runtime.layers, code: function.codePath, tmpMiB: tmpMiB),
                        environment: environment, workingDirectory: "/var/task", resources: resources,
                        idMapping: IDMapping(ownerIndex: function.ownerIndex),
                        stdio: .fds(stdin: Instance.devNull, stdout: output.writeEnd, stderr: output.writeEnd),
                        dieWithParent: true, network: .prepared(network))
                    if let template {
                        spec.extraFiles = [template.control]
                        spec.environment["CELLA_TEMPLATE_FD"] = "3"
                        spec.allowsTemplateClones = true
                    }
                    let sandbox: Sandbox
                    do throws(SandboxError) {
                        sandbox = try launcher.launch(spec, cgroup: cgroups?.take(refillingOn: threadPool), held: held)
                    } catch {
                        close(listener)
                        output.close()
                        throw error
                    }
                    output.closeWriteEnd()
                    return (sandbox, output, listener)
                }
            }
        } catch {
            throw AgentError(.internal, "cannot start an instance of \(function.key): \(error)")
        }
        let (sandbox, output, listener): (Sandbox, OutputPipe, Int32)
        switch launched {
        case .success(let started): (sandbox, output, listener) = started
        case .failure(let error): throw AgentError(.internal, "cannot start an instance of \(function.key): \(error)")
        }
        let server: any Channel
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            RuntimeAPIHandler(instance: instance, maxBodyBytes: maxPayloadBytes))
                    }
                }
                .withBoundSocket(listener).get()
        } catch {
            close(listener)
            sandbox.kill()
            _ = await sandbox.wait()
            output.close()
            throw AgentError(.internal, "cannot serve the Runtime API for \(function.key): \(error)")
        }
        let peakMemory = PeakMemoryReader(sandbox.cgroup)
        instance.state.withLock { state in
            state.process = sandbox
            state.peakMemory = peakMemory
            state.server = server
            state.output = output
        }
        Task.detached { instance.exited(await sandbox.wait()) }
        return instance
    }

    /// Forks a new instance from a parked template (docs/runtime-snapshots.md) and returns once
    /// the clone is in its own cgroup with its Runtime API connection served, waiting for its go
    /// line (`go`); it is ready at the later of its go line and its first `/next` (see
    /// `waitUntilReady`). The caller serializes requests to one template.
    /// - Parameters:
    ///   - request: the clone request line for the template's control socket.
    ///   - cgroup: one made ahead with the version's limits, or nil to make it here.
    /// - Throws: `AgentError` `.internal` when the template or the clone does not answer.
    static func clone(
        id: String, function: DeployedFunction, control: Int32, request: [UInt8],
        resources: SandboxSpec.Resources, cgroup prepared: SandboxCgroup? = nil, timeoutMs: Int32, maxPayloadBytes: Int,
        launcher: SandboxLauncher, threadPool: NIOThreadPool, group: any EventLoopGroup,
        logs: LogStore, region: String, onExit: @escaping @Sendable (Instance) -> Void
    ) async throws(AgentError) -> Instance {
        let instance = Instance(id: id, function: function, logs: logs, region: region, isClone: true)
        instance.state.withLock {
            $0.onExit = onExit
            $0.letGo = false
        }
        let forked: Result<(TemplateFork.Started, OutputPipe), SandboxError>
        do {
            forked = try await threadPool.runIfActive { [weak instance] in
                Result { () throws(SandboxError) -> (TemplateFork.Started, OutputPipe) in
                    let output = try OutputPipe { [weak instance] line in instance?.handleLog(line) }
                    let cgroup: SandboxCgroup
                    if let prepared {
                        cgroup = prepared
                    } else {
                        do throws(SandboxError) { cgroup = try launcher.cgroups.create(id: id, resources: resources) } catch {
                            output.close()
                            throw error
                        }
                    }
                    do throws(SandboxError) {
                        let started = try TemplateFork.fork(
                            control: control, request: request, output: output.writeEnd, cgroup: cgroup,
                            timeoutMs: timeoutMs)
                        output.closeWriteEnd()
                        return (started, output)
                    } catch {
                        output.close()
                        if !cgroup.processes().isEmpty { cgroup.killAll() }
                        cgroup.destroy()
                        throw error
                    }
                }
            }
        } catch {
            throw AgentError(.internal, "cannot clone an instance of \(function.key): \(error)")
        }
        let (started, output): (TemplateFork.Started, OutputPipe)
        switch forked {
        case .success(let value): (started, output) = value
        case .failure(let error): throw AgentError(.internal, "cannot clone an instance of \(function.key): \(error)")
        }
        let process = started.process
        // The go line goes out on a second descriptor of the connection, from whichever thread
        // sends it, with no hop to the channel's event loop. Nothing else is written to the clone
        // before it: a `/next` the clone sends first is answered only after the line (`go`).
        let goSocket = fcntl(started.runtimeSocket, F_DUPFD_CLOEXEC, 0)
        guard goSocket >= 0 else {
            let code = errno
            close(started.runtimeSocket)
            process.kill()
            _ = await process.wait()
            output.close()
            throw AgentError(.internal, "cannot clone an instance of \(function.key): dup: \(Errno.describe(code))")
        }
        let channel: any Channel
        do {
            // The clone's end is the only peer this connection can ever have: which instance
            // speaks is known from the socket, as for a cold instance's listener.
            channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            RuntimeAPIHandler(instance: instance, maxBodyBytes: maxPayloadBytes))
                    }
                }
                .withConnectedSocket(started.runtimeSocket).get()
        } catch {
            close(started.runtimeSocket)
            close(goSocket)
            process.kill()
            _ = await process.wait()
            output.close()
            throw AgentError(.internal, "cannot serve the Runtime API for a clone of \(function.key): \(error)")
        }
        let peakMemory = PeakMemoryReader(process.cgroup)
        instance.state.withLock { state in
            state.process = process
            state.peakMemory = peakMemory
            state.server = channel
            state.output = output
            state.goSocket = goSocket
        }
        Task.detached { instance.exited(await process.wait()) }
        return instance
    }

    /// Lets a clone waiting in its cgroup go on: writes its go line (docs/runtime-snapshots.md),
    /// once. Its init runs on from there (see `waitUntilReady`); when its first `/next` is in
    /// already (it asked before the line), its init ends here, and the event goes out behind it.
    /// - Throws: `AgentError` `.internal` when the clone is gone or was let go already.
    func go(_ line: [UInt8]) throws(AgentError) {
        guard let socket = state.withLock({ state -> Int32? in
            defer { state.goSocket = nil }
            return state.phase == .dead ? nil : state.goSocket
        }) else {
            throw AgentError(.internal, "the clone \(id) is gone or already running")
        }
        defer { close(socket) }
        do throws(SandboxError) { try TemplateFork.go(socket: socket, line: line) } catch {
            throw AgentError(.internal, "cannot release the clone \(id): \(error)")
        }
        var waiters: [CheckedContinuation<InitOutcome, Never>] = []
        var ready: InitOutcome?
        state.withLock { state in
            state.letGo = true
            guard state.phase == .initializing, state.parked != nil else { return }
            let (outcome, initWaiters) = Self.endInit(&state, startedAt: started.withLock { $0 })
            (ready, waiters) = (outcome, initWaiters)
        }
        if let ready { for waiter in waiters { waiter.resume(returning: ready) } }
    }

    /// Marks the runtime's init done (its first `/next` is in); returns the outcome and the
    /// waiters to resume with it, outside the lock.
    private static func endInit(
        _ state: inout State, startedAt: ContinuousClock.Instant
    ) -> (InitOutcome, [CheckedContinuation<InitOutcome, Never>]) {
        state.phase = .ready
        let outcome = InitOutcome.ready(durationMs: milliseconds(since: startedAt))
        state.initOutcome = outcome
        defer { state.initWaiters = [] }
        return (outcome, state.initWaiters)
    }

    /// Starts the runtime of an instance started held, with `environment` on top of the one it was
    /// made with; its init is timed from now.
    /// - Throws: `AgentError` `.internal` when it was not held or its runtime cannot be exec'd
    ///   (the sandbox is killed then).
    func releaseHeld(environment: [String: String], threadPool: NIOThreadPool) async throws(AgentError) {
        guard let sandbox = state.withLock({ $0.phase == .initializing ? $0.process : nil }) as? Sandbox, sandbox.isHeld else {
            throw AgentError(.internal, "the instance \(id) is not held")
        }
        started.withLock { $0 = .now }
        let released: Result<Void, SandboxError>
        do {
            // Blocking until the exec: on the thread pool, like the launch.
            released = try await threadPool.runIfActive { Result { () throws(SandboxError) in try sandbox.release(environment: environment) } }
        } catch {
            sandbox.kill()
            throw AgentError(.internal, "cannot release the prepared instance \(id): \(error)")
        }
        if case .failure(let error) = released {
            throw AgentError(.internal, "cannot release the prepared instance \(id): \(error)")
        }
    }

    /// stdin of every sandbox.
    static let devNull: Int32 = open("/dev/null", O_RDWR | O_CLOEXEC)

    /// Waits until the runtime asks for its first invocation (init done), reports an init error,
    /// or dies.
    func waitUntilReady() async -> InitOutcome {
        await withCheckedContinuation { continuation in
            let done: InitOutcome? = state.withLock { state in
                if let outcome = state.initOutcome { return outcome }
                state.initWaiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// Whether the instance can still serve.
    var isAlive: Bool { state.withLock { $0.phase != .dead } }

    /// The sandbox's peak memory so far.
    var peakMemoryBytes: UInt64 {
        let (reader, exit) = state.withLock { ($0.peakMemory, $0.exit) }
        if let exit { return exit.usage.peakMemoryBytes }
        return reader?.read() ?? 0
    }

    /// The event loop the instance's Runtime API connections run on.
    var eventLoop: (any EventLoop)? { state.withLock { $0.server?.eventLoop } }

    /// Hands `request` to the runtime and waits for its answer, the deadline or the runtime's death.
    /// A timeout kills the instance. Returns the result and the lines logged meanwhile.
    func invoke(_ request: PendingInvocation, timeout: TimeAmount) async -> (InvocationResult, [String]) {
        await withCheckedContinuation { continuation in
            let accepted: (parked: RuntimeResponder?, loop: any EventLoop)? = state.withLock { state in
                guard state.phase == .ready, state.current == nil, let server = state.server else { return nil }
                var current = Current(request: request, continuation: continuation)
                let parked = state.parked
                if parked != nil {
                    state.parked = nil
                    current.delivered = true
                }
                state.current = current
                return (parked, server.eventLoop)
            }
            guard let accepted else {
                continuation.resume(returning: (.failure(.crash, FunctionErrorBody(
                    errorMessage: "RequestId: \(request.requestId) Error: the instance is not ready",
                    errorType: "Runtime.Unavailable")), []))
                return
            }
            // One hop to the instance's event loop arms the deadline and hands over the event.
            accepted.loop.execute { [self] in
                let timer = accepted.loop.scheduleTask(in: timeout) { [weak self] () -> Void in
                    guard let self else { return }
                    self.timedOut(request.requestId, after: timeout)
                }
                let armed = state.withLock { state in
                    guard state.current?.request.requestId == request.requestId else { return false }
                    state.current?.timeout = timer
                    return true
                }
                if !armed { timer.cancel() }
                if let parked = accepted.parked { send(request, to: parked) }
            }
        }
    }

    /// Kills the sandbox; `exited` cleans up.
    func terminate() {
        state.withLock { $0.process }?.kill()
    }

    /// Kills the sandbox and waits until it is gone.
    func stop() async {
        guard let process = state.withLock({ $0.process }) else { return }
        process.kill()
        _ = await process.wait()
    }

    /// Raises the instance's memory limit (a template's, once it parked).
    func raiseMemoryLimit(to bytes: UInt64) {
        try? state.withLock { $0.process }?.cgroup.raiseMemoryLimit(to: bytes)
    }

    /// Memory charged to the instance's cgroup now.
    var currentMemoryBytes: UInt64 { state.withLock { $0.process }?.cgroup.currentMemoryBytes() ?? 0 }

    // MARK: Runtime API events (on the instance's event loop)

    func runtimeAsksNext(_ responder: RuntimeResponder) {
        enum Step { case park, deliver(PendingInvocation), reject(String) }
        var waiters: [CheckedContinuation<InitOutcome, Never>] = []
        var ready: InitOutcome?
        let step: Step = state.withLock { state in
            switch state.phase {
            case .dead: return .reject("the instance is shutting down")
            case .parked: return .reject("a parked template serves no invocations")
            case .initializing where !state.letGo:
                // A clone asking before its go line: the event waits for the line (see `go`).
                if state.parked != nil { return .reject("another /next is already waiting") }
                state.parked = responder
                return .park
            case .initializing:
                let (outcome, initWaiters) = Self.endInit(&state, startedAt: started.withLock { $0 })
                (ready, waiters) = (outcome, initWaiters)
            case .ready: break
            }
            if var current = state.current {
                if current.delivered { return .reject("/next before the current invocation was answered") }
                current.delivered = true
                state.current = current
                return .deliver(current.request)
            }
            if state.parked != nil { return .reject("another /next is already waiting") }
            state.parked = responder
            return .park
        }
        if let ready { for waiter in waiters { waiter.resume(returning: ready) } }
        switch step {
        case .park: break
        case .deliver(let request): send(request, to: responder)
        case .reject(let why): responder.sendError(.forbidden, type: "InvalidStateTransition", message: why)
        }
    }

    /// `POST /runtime/cella/template/park`: a template's runtime finished its init. Answered with
    /// the seccomp program its clones install; only an instance started as a template may park.
    func runtimeParks(_ responder: RuntimeResponder) {
        guard let program = templateProgram else {
            return responder.sendError(.forbidden, type: "InvalidStateTransition", message: "this instance was not started as a template")
        }
        var waiters: [CheckedContinuation<InitOutcome, Never>] = []
        let outcome: InitOutcome? = state.withLock { state in
            guard state.phase == .initializing else { return nil }
            state.phase = .parked
            let outcome = InitOutcome.parked(durationMs: Self.milliseconds(since: started.withLock { $0 }))
            state.initOutcome = outcome
            waiters = state.initWaiters
            state.initWaiters = []
            return outcome
        }
        guard let outcome else {
            return responder.sendError(.forbidden, type: "InvalidStateTransition", message: "park is allowed once, after init")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/octet-stream")
        responder.send(.ok, headers: headers, body: ByteBuffer(bytes: program))
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    func runtimeResponds(id: String, body: ByteBuffer, responder: RuntimeResponder) {
        finish(id: id, responder: responder) { _ in .response(body) }
    }

    func runtimeReportsError(id: String, body: ByteBuffer, errorType: String?, responder: RuntimeResponder) {
        finish(id: id, responder: responder) { _ in
            .functionError(body, errorType: errorType ?? Self.errorType(in: body) ?? "Unhandled")
        }
    }

    func runtimeReportsInitError(body: ByteBuffer, errorType: String?, responder: RuntimeResponder) {
        var error = Self.decodeError(body)
        if let errorType { error.errorType = errorType }
        let waiters: [CheckedContinuation<InitOutcome, Never>]? = state.withLock { state in
            guard state.phase == .initializing else { return nil }
            state.phase = .dead
            state.initOutcome = .failed(error)
            defer { state.initWaiters = [] }
            return state.initWaiters
        }
        guard let waiters else {
            return responder.sendError(.forbidden, type: "InvalidStateTransition", message: "init/error after init")
        }
        responder.send(.accepted, body: ByteBuffer(string: #"{"status":"OK"}"#))
        for waiter in waiters { waiter.resume(returning: .failed(error)) }
        // The runtime exits after reporting; the instance is of no further use either way.
        terminate()
    }

    func runtimeSentTooLarge(_ uri: String) {
        guard uri.hasSuffix("/response"), let id = uri.split(separator: "/").dropLast().last else { return }
        finish(id: String(id), responder: nil) { request in
            .failure(.error, FunctionErrorBody(
                errorMessage: "RequestId: \(request.requestId) Error: the response is larger than the limit",
                errorType: "Function.ResponseSizeTooLarge"))
        }
    }

    private func finish(id: String, responder: RuntimeResponder?, result: (PendingInvocation) -> InvocationResult) {
        // Everything the runtime logged before answering is in the pipe now: attribute it first.
        state.withLock { $0.output }?.drain()
        let current: Current? = state.withLock { state in
            guard let current = state.current, current.delivered, current.request.requestId == id else { return nil }
            state.current = nil
            return current
        }
        guard let current else {
            responder?.sendError(.badRequest, type: "InvalidRequestID", message: "no invocation \(id) is waiting for an answer")
            return
        }
        current.timeout?.cancel()
        current.continuation.resume(returning: (result(current.request), current.lines))
        responder?.send(.accepted, body: ByteBuffer(string: #"{"status":"OK"}"#))
    }

    private func send(_ request: PendingInvocation, to responder: RuntimeResponder) {
        var headers = HTTPHeaders()
        headers.reserveCapacity(8)
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Lambda-Runtime-Aws-Request-Id", value: request.requestId)
        headers.add(name: "Lambda-Runtime-Deadline-Ms", value: String(request.deadlineMs))
        headers.add(name: "Lambda-Runtime-Invoked-Function-Arn", value: function.arn(region: region))
        if let trace = request.traceId { headers.add(name: "Lambda-Runtime-Trace-Id", value: trace) }
        if let context = request.clientContext { headers.add(name: "Lambda-Runtime-Client-Context", value: context) }
        if let identity = request.cognitoIdentity { headers.add(name: "Lambda-Runtime-Cognito-Identity", value: identity) }
        responder.send(.ok, headers: headers, body: request.payload)
    }

    // MARK: Deadline, logs, exit

    private func timedOut(_ requestId: String, after timeout: TimeAmount) {
        state.withLock { $0.output }?.drain()
        let current: Current? = state.withLock { state in
            guard let current = state.current, current.request.requestId == requestId else { return nil }
            state.current = nil
            state.phase = .dead
            return current
        }
        guard let current else { return }
        terminate()
        let seconds = String(format: "%.2f", Double(timeout.nanoseconds) / 1e9)
        current.continuation.resume(returning: (.failure(.timeout, FunctionErrorBody(
            errorMessage: "RequestId: \(requestId) Error: Task timed out after \(seconds) seconds",
            errorType: "Sandbox.Timedout")), current.lines))
    }

    private func handleLog(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let requestId: String? = state.withLock { state in
            state.recent.append(text)
            if state.recent.count > Self.recentLines { state.recent.removeFirst() }
            guard var current = state.current else { return nil }
            current.lines.append(text)
            current.lineBytes += text.utf8.count + 1
            while current.lineBytes > Self.tailBytes, current.lines.count > 1 {
                current.lineBytes -= current.lines.removeFirst().utf8.count + 1
            }
            state.current = current
            return current.request.requestId
        }
        logs.append(function: function.key, LogLine(
            timeMs: Self.nowMs(), requestId: requestId, instance: id, text: text))
    }

    private func exited(_ exit: SandboxExit) {
        state.withLock { $0.output }?.close()
        if let socket = state.withLock({ state in defer { state.goSocket = nil }; return state.goSocket }) { close(socket) }
        let (current, waiters, parked, server, recent, onExit) = state.withLock { state in
            state.phase = .dead
            state.exit = exit
            state.peakMemory = nil
            let taken = (state.current, state.initWaiters, state.parked, state.server, Array(state.recent), state.onExit)
            state.current = nil
            state.initWaiters = []
            state.parked = nil
            state.server = nil
            state.output = nil
            state.onExit = nil
            return taken
        }
        server?.close(promise: nil)
        parked?.channel.close(promise: nil)
        let cause: String
        switch exit.termination {
        case .exited(let status): cause = "exit status \(status)"
        case .signaled(let signal): cause = "signal: \(Self.signalName(signal))"
        }
        let oom = exit.usage.oomKilled
        // Recorded even with no one waiting yet: a clone that dies between its go line and the
        // pool's wait must fail that wait at once, not at the init timeout.
        let failure = FunctionErrorBody(
            errorMessage: "Runtime exited with error: \(cause)" + (oom ? " (out of memory)" : ""),
            errorType: oom ? "Runtime.OutOfMemory" : "Runtime.ExitError", logTail: recent)
        let outcome = state.withLock { state -> InitOutcome in
            if state.initOutcome == nil { state.initOutcome = .failed(failure) }
            return state.initOutcome!
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
        if let current {
            current.timeout?.cancel()
            let id = current.request.requestId
            let body = FunctionErrorBody(
                errorMessage: "RequestId: \(id) Error: Runtime exited with error: \(cause)"
                    + (oom ? " (the function ran out of its \(function.config.memoryMB) MB)" : ""),
                errorType: oom ? "Runtime.OutOfMemory" : "Runtime.ExitError", logTail: recent)
            current.continuation.resume(returning: (.failure(oom ? .oom : .crash, body), current.lines))
        }
        onExit?(self)
    }

    // MARK: Helpers

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGKILL: "killed"
        case SIGSEGV: "segmentation fault"
        case SIGABRT: "aborted"
        case SIGTERM: "terminated"
        case SIGBUS: "bus error"
        default: "signal \(signal)"
        }
    }

    /// `errorType` of a function's error object, read without building the object: the body is
    /// the tenant's, up to the response limit, and this runs on an event loop other tenants'
    /// instances share (JSONSerialization spent about half a second on 3.5 MB of JSON).
    static func errorType(in body: ByteBuffer) -> String? {
        body.withUnsafeReadableBytes { JSONLexer.topLevelString("errorType", in: $0) }
    }

    static func decodeError(_ body: ByteBuffer) -> FunctionErrorBody {
        let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        return FunctionErrorBody(
            errorMessage: object?["errorMessage"] as? String ?? String(buffer: body),
            errorType: object?["errorType"] as? String ?? "Runtime.Unknown",
            stackTrace: object?["stackTrace"] as? [String])
    }
}
