import CZeroMQ
import Foundation

/// Identifies a socket owned by a `WireReactor`.
public struct SocketID: Hashable, Sendable, CustomStringConvertible {
    let raw: Int
    public var description: String { "socket#\(raw)" }
}

/// A message received on one of the reactor's sockets, its bytes already copied out.
public struct WireMessage: Sendable {
    public let socket: SocketID
    /// For a ROUTER socket: the routing id of the connection it came from (reply with it).
    public let routingID: [UInt8]?
    /// The sender's CURVE public key (Z85), as the ZAP handler authenticated it.
    public let peerKey: String?
    public let frames: [[UInt8]]
}

public struct WireOptions: Sendable {
    /// Larger inbound messages make libzmq drop the connection (`ZMQ_MAXMSGSIZE`).
    public var maxMessageSize: Int64 = 8 << 20
    public var highWaterMark: Int32 = 1000
    public var inboundCapacity = 256
    /// Milliseconds unsent messages may delay closing (`ZMQ_LINGER`).
    public var linger: Int32 = 0

    public init() {}
}

/// Owns a ZeroMQ context and every socket in it, on one dedicated thread that runs
/// `zmq_poll` over the sockets, the ZAP handler and a wake-up pipe. Tasks talk to it through
/// a command queue (`perform`) and receive through a bounded inbox (`receive`), so no task
/// ever blocks in libzmq and no socket is touched by two threads.
public final class WireReactor: @unchecked Sendable {
    private let context: UnsafeMutableRawPointer
    private let options: WireOptions
    private let lock = NSLock()
    private var commands: [(Loop) -> Void] = []
    private var wakeRead: Int32 = -1
    private var wakeWrite: Int32 = -1
    private let inbox: Inbox
    private let finished = DispatchSemaphore(value: 0)
    private var stopped = false

    public init(options: WireOptions = WireOptions()) throws(ZMQError) {
        guard let context = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.context = context
        self.options = options
        self.inbox = Inbox(capacity: options.inboundCapacity)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ZMQError(code: .init(rawValue: errno), operation: "pipe") }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, O_NONBLOCK)
        _ = fcntl(wakeWrite, F_SETFL, O_NONBLOCK)
        inbox.onRoom = { [weak self] in self?.wake() }
        let loop = try Loop(context: context, options: options)
        let thread = Thread { [self] in self.run(loop) }
        thread.name = "vellum-zmq"
        thread.start()
    }

    deinit {
        shutdown()
        close(wakeRead)
        close(wakeWrite)
    }

    /// Stops the thread, closes every socket and terminates the context. Idempotent.
    public func shutdown() {
        let first: Bool = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        wake()
        finished.wait()
        inbox.close()
    }

    /// The next inbound message; nil after shutdown, or when `seconds` pass without one.
    /// One consumer at a time.
    public func receive(within seconds: Double? = nil) async -> WireMessage? { await inbox.take(within: seconds) }

    /// Runs `body` on the reactor thread with its sockets.
    func perform<T: Sendable>(_ body: @escaping @Sendable (Loop) throws(ZMQError) -> T) async throws(ZMQError) -> T {
        let result: Result<T, ZMQError> = await withCheckedContinuation { continuation in
            let accepted: Bool = lock.withLock {
                guard !stopped else { return false }
                commands.append { loop in
                    do throws(ZMQError) { continuation.resume(returning: .success(try body(loop))) } catch {
                        continuation.resume(returning: .failure(error))
                    }
                }
                return true
            }
            if accepted { wake() } else { continuation.resume(returning: .failure(ZMQError(code: .terminated, operation: "reactor stopped"))) }
        }
        return try result.get()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    // MARK: public operations

    /// Binds a ROUTER socket as a CURVE server; returns it and the endpoint it bound
    /// (`tcp://127.0.0.1:0` picks a free port).
    public func bindRouter(_ endpoint: String, curve: CurveKeyPair?) async throws(ZMQError) -> (SocketID, String) {
        try await perform { loop throws(ZMQError) in try loop.bindRouter(endpoint, curve: curve) }
    }

    /// Connects a DEALER socket, as a CURVE client of a server whose public key is `serverKey`.
    public func connectDealer(_ endpoint: String, serverKey: String?, curve: CurveKeyPair?) async throws(ZMQError) -> SocketID {
        try await perform { loop throws(ZMQError) in try loop.connectDealer(endpoint, serverKey: serverKey, curve: curve) }
    }

    /// Sends a message without blocking; `again` means the peer's queue is full (its
    /// high-water mark) or it is not connected: the caller decides whether to retry later.
    public func send(_ frames: [[UInt8]], on socket: SocketID, to routingID: [UInt8]? = nil) async throws(ZMQError) {
        try await perform { loop throws(ZMQError) in try loop.send(frames, on: socket, to: routingID) }
    }

    public func closeSocket(_ socket: SocketID) async {
        _ = try? await perform { loop throws(ZMQError) in loop.close(socket) }
    }

    /// The CURVE client keys the ZAP handler admits; nil admits none.
    public func setAllowedKeys(_ keys: Set<String>) async {
        let raw = Set(keys.compactMap(CurveKeyPair.decode))
        _ = try? await perform { loop throws(ZMQError) in loop.allowed = raw }
    }

    /// How many connections the ZAP handler refused.
    public func refusedCount() async -> Int {
        (try? await perform { loop throws(ZMQError) in loop.refused }) ?? 0
    }

    // MARK: the thread

    private func run(_ loop: Loop) {
        var items: [zmq_pollitem_t] = []
        while true {
            items.removeAll(keepingCapacity: true)
            items.append(zmq_pollitem_t(socket: nil, fd: wakeRead, events: Int16(ZMQ_POLLIN), revents: 0))
            items.append(zmq_pollitem_t(socket: loop.zap, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
            let room = inbox.hasRoom
            let ids = loop.sockets.keys.sorted { $0.raw < $1.raw }
            for id in ids {
                items.append(zmq_pollitem_t(socket: loop.sockets[id]!.handle, fd: 0, events: room ? Int16(ZMQ_POLLIN) : 0, revents: 0))
            }
            _ = zmq_poll(&items, Int32(items.count), 1000)
            var drain = [UInt8](repeating: 0, count: 64)
            while read(wakeRead, &drain, 64) > 0 {}
            let (pending, stop): ([(Loop) -> Void], Bool) = lock.withLock {
                defer { commands.removeAll() }
                return (commands, stopped)
            }
            for command in pending { command(loop) }
            if stop { break }
            if items[1].revents & Int16(ZMQ_POLLIN) != 0 { loop.serveZAP() }
            for (i, id) in ids.enumerated() where items[i + 2].revents & Int16(ZMQ_POLLIN) != 0 {
                while inbox.hasRoom, let message = loop.receive(on: id) { inbox.offer(message) }
            }
        }
        // Commands that raced with shutdown fail rather than hang.
        let late: [(Loop) -> Void] = lock.withLock { defer { commands.removeAll() }; return commands }
        for command in late { command(loop) }
        loop.closeAll()
        zmq_ctx_term(context)
        finished.signal()
    }
}
