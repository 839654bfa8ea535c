import CZeroMQ

/// A libzmq error number, catchable by value, with libzmq's own description.
public struct ZMQError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let again = Code(rawValue: EAGAIN)
        public static let terminated = Code(rawValue: ETERM)
        public static let invalid = Code(rawValue: EINVAL)
    }

    public let code: Code
    public let operation: String

    public var description: String { "\(operation): \(String(cString: zmq_strerror(code.rawValue)))" }

    static func last(_ operation: String) -> ZMQError { ZMQError(code: Code(rawValue: zmq_errno()), operation: operation) }
    public static func == (a: ZMQError, b: ZMQError) -> Bool { a.code == b.code }
}
