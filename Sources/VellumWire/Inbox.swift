import Foundation

/// A bounded, single-consumer queue from the reactor thread to a task. When it is full the
/// reactor stops reading its sockets, so back-pressure reaches ZeroMQ (and from there the
/// sender's high-water mark) instead of anything being dropped here.
final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [WireMessage] = []
    private var head = 0
    private var waiter: CheckedContinuation<WireMessage?, Never>?
    private var waiterToken = 0
    private var closed = false
    let capacity: Int
    /// Called (off the lock) when a take frees room in a full inbox.
    var onRoom: @Sendable () -> Void = {}

    init(capacity: Int) { self.capacity = capacity }

    var hasRoom: Bool { lock.withLock { buffer.count - head < capacity } }

    /// Reactor side: hands a message to a waiting consumer, or buffers it.
    func offer(_ message: WireMessage) {
        let resume: CheckedContinuation<WireMessage?, Never>? = lock.withLock {
            if let w = waiter {
                waiter = nil
                return w
            }
            buffer.append(message)
            return nil
        }
        resume?.resume(returning: message)
    }

    /// Consumer side: the next message, or nil once closed and drained, or after `seconds`.
    func take(within seconds: Double? = nil) async -> WireMessage? {
        await withCheckedContinuation { (continuation: CheckedContinuation<WireMessage?, Never>) in
            let (message, wasFull, done, token): (WireMessage?, Bool, Bool, Int) = lock.withLock {
                if head < buffer.count {
                    let wasFull = buffer.count - head >= capacity
                    let m = buffer[head]
                    head += 1
                    if head > 64 && head * 2 > buffer.count {
                        buffer.removeFirst(head)
                        head = 0
                    }
                    return (m, wasFull, false, 0)
                }
                if closed { return (nil, false, true, 0) }
                waiter = continuation
                waiterToken += 1
                return (nil, false, false, waiterToken)
            }
            if let message {
                continuation.resume(returning: message)
                if wasFull { onRoom() }
            } else if done {
                continuation.resume(returning: nil)
            } else if let seconds {
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
                    let expired: CheckedContinuation<WireMessage?, Never>? = lock.withLock {
                        guard waiterToken == token, let w = waiter else { return nil }
                        waiter = nil
                        return w
                    }
                    expired?.resume(returning: nil)
                }
            }
        }
    }

    func close() {
        let w: CheckedContinuation<WireMessage?, Never>? = lock.withLock {
            closed = true
            defer { waiter = nil }
            return head < buffer.count ? nil : waiter
        }
        w?.resume(returning: nil)
    }
}
