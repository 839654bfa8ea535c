import CZeroMQ

/// The reactor thread's state: every socket handle, owned here and closed here.
final class Loop: @unchecked Sendable {  // confined to the reactor thread
    struct Socket {
        let handle: UnsafeMutableRawPointer
        let isRouter: Bool
    }

    static let zapEndpoint = "inproc://zeromq.zap.01"
    let options: WireOptions
    let context: UnsafeMutableRawPointer
    var sockets: [SocketID: Socket] = [:]
    let zap: UnsafeMutableRawPointer
    var allowed: Set<[UInt8]> = []
    var refused = 0
    private var nextID = 0

    init(context: UnsafeMutableRawPointer, options: WireOptions) throws(ZMQError) {
        self.context = context
        self.options = options
        guard let zap = zmq_socket(context, ZMQ_REP) else { throw ZMQError.last("zmq_socket(ZAP)") }
        self.zap = zap
        var linger: Int32 = 0
        zmq_setsockopt(zap, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        guard zmq_bind(zap, Loop.zapEndpoint) == 0 else { throw ZMQError.last("bind ZAP handler") }
    }

    private func makeSocket(_ type: Int32) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let s = zmq_socket(context, type) else { throw ZMQError.last("zmq_socket") }
        var linger = options.linger
        var maxSize = options.maxMessageSize
        var hwm = options.highWaterMark
        zmq_setsockopt(s, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxSize, MemoryLayout<Int64>.size)
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, MemoryLayout<Int32>.size)
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, MemoryLayout<Int32>.size)
        return s
    }

    private func register(_ handle: UnsafeMutableRawPointer, router: Bool) -> SocketID {
        nextID += 1
        let id = SocketID(raw: nextID)
        sockets[id] = Socket(handle: handle, isRouter: router)
        return id
    }

    func bindRouter(_ endpoint: String, curve: CurveKeyPair?) throws(ZMQError) -> (SocketID, String) {
        let s = try makeSocket(ZMQ_ROUTER)
        var one: Int32 = 1
        // Report unroutable or full peers instead of dropping silently.
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, MemoryLayout<Int32>.size)
        if let curve {
            zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, MemoryLayout<Int32>.size)
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve.secretKey, 40)
            zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, "vellum", 6)
        }
        let wanted = endpoint.hasSuffix(":0") ? String(endpoint.dropLast()) + "*" : endpoint
        guard zmq_bind(s, wanted) == 0 else {
            let error = ZMQError.last("bind \(endpoint)")
            zmq_close(s)
            throw error
        }
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, &buffer, &size)
        return (register(s, router: true), cString(buffer))
    }

    func connectDealer(_ endpoint: String, serverKey: String?, curve: CurveKeyPair?) throws(ZMQError) -> SocketID {
        let s = try makeSocket(ZMQ_DEALER)
        if let serverKey, let curve {
            zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, serverKey, 40)
            zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, curve.publicKey, 40)
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve.secretKey, 40)
        }
        // Do not queue messages for a peer that is not connected yet.
        var one: Int32 = 1
        zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, MemoryLayout<Int32>.size)
        guard zmq_connect(s, endpoint) == 0 else {
            let error = ZMQError.last("connect \(endpoint)")
            zmq_close(s)
            throw error
        }
        return register(s, router: false)
    }

    func send(_ frames: [[UInt8]], on id: SocketID, to routingID: [UInt8]?) throws(ZMQError) {
        guard let socket = sockets[id] else { throw ZMQError(code: .invalid, operation: "send on closed \(id)") }
        let all = (socket.isRouter ? [routingID ?? []] : []) + frames
        for (i, frame) in all.enumerated() {
            let flags = ZMQ_DONTWAIT | (i < all.count - 1 ? ZMQ_SNDMORE : 0)
            let rc = frame.withUnsafeBytes { zmq_send(socket.handle, $0.baseAddress, frame.count, flags) }
            // Multipart messages are atomic: only the first part can be refused.
            if rc < 0 { throw ZMQError.last("send") }
        }
    }

    /// One whole message, copied out of libzmq; nil when none is waiting.
    func receive(on id: SocketID) -> WireMessage? {
        guard let socket = sockets[id] else { return nil }
        var frames: [[UInt8]] = []
        var peerKey: String?
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            let rc = zmq_msg_recv(&msg, socket.handle, frames.isEmpty ? ZMQ_DONTWAIT : 0)
            if rc < 0 {
                zmq_msg_close(&msg)
                return nil
            }
            let size = zmq_msg_size(&msg)
            frames.append(size == 0 ? [] : Array(UnsafeRawBufferPointer(start: zmq_msg_data(&msg), count: size)))
            if peerKey == nil, let userID = zmq_msg_gets(&msg, "User-Id") { peerKey = String(cString: userID) }
            let more = zmq_msg_more(&msg) != 0
            zmq_msg_close(&msg)
            if !more { break }
        }
        if socket.isRouter {
            let routing = frames.removeFirst()
            return WireMessage(socket: id, routingID: routing, peerKey: peerKey, frames: frames)
        }
        return WireMessage(socket: id, routingID: nil, peerKey: peerKey, frames: frames)
    }

    /// Answers one ZAP request (RFC 27): CURVE clients on the allow-list get in, with their
    /// key as the user id; everyone else is refused.
    func serveZAP() {
        var request: [[UInt8]] = []
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            guard zmq_msg_recv(&msg, zap, ZMQ_DONTWAIT) >= 0 else {
                zmq_msg_close(&msg)
                return
            }
            let size = zmq_msg_size(&msg)
            request.append(size == 0 ? [] : Array(UnsafeRawBufferPointer(start: zmq_msg_data(&msg), count: size)))
            let more = zmq_msg_more(&msg) != 0
            zmq_msg_close(&msg)
            if !more { break }
        }
        guard request.count >= 6 else { return }
        let mechanism = String(decoding: request[5], as: UTF8.self)
        let key = request.count >= 7 ? request[6] : []
        let ok = mechanism == "CURVE" && key.count == 32 && allowed.contains(key)
        if !ok { refused += 1 }
        let reply: [[UInt8]] = [
            Array("1.0".utf8), request[1], Array((ok ? "200" : "400").utf8), Array((ok ? "OK" : "not on the allow-list").utf8),
            ok ? Array(CurveKeyPair.encode(key).utf8) : [], [],
        ]
        for (i, frame) in reply.enumerated() {
            _ = frame.withUnsafeBytes { zmq_send(zap, $0.baseAddress, frame.count, i < reply.count - 1 ? ZMQ_SNDMORE : 0) }
        }
    }

    func close(_ id: SocketID) {
        if let s = sockets.removeValue(forKey: id) { zmq_close(s.handle) }
    }

    func closeAll() {
        for s in sockets.values { zmq_close(s.handle) }
        sockets.removeAll()
        zmq_close(zap)
    }
}
