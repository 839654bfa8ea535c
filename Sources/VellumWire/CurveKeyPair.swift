import CZeroMQ

/// A CurveZMQ key pair (Curve25519), in Z85 text as libzmq takes it: 40 characters each.
public struct CurveKeyPair: Sendable, Hashable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh key pair from libzmq's CSPRNG.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZMQError.last("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: cString(pub), secretKey: cString(sec))
    }

    /// The public key belonging to a Z85 secret key.
    public static func publicKey(forSecret secret: String) throws(ZMQError) -> String {
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secret) == 0 else { throw ZMQError.last("zmq_curve_public") }
        return cString(pub)
    }

    /// Whether `text` is a Z85-encoded 32-byte key.
    public static func isValidKey(_ text: String) -> Bool { decode(text) != nil }

    /// The 32 key bytes of a Z85 key.
    public static func decode(_ text: String) -> [UInt8]? {
        guard text.utf8.count == 40 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&bytes, text) != nil else { return nil }
        return bytes
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        precondition(bytes.count == 32)
        var text = [CChar](repeating: 0, count: 41)
        _ = zmq_z85_encode(&text, bytes, 32)
        return cString(text)
    }
}

/// The text of a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
