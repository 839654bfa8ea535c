import CZlib
import Foundation
import VellumCore

/// GZIP (RFC 1952) through the system zlib, and the `u` (base64url, no padding) multibase
/// form a Bitstring Status List's `encodedList` takes.
public enum Gzip {
    public static func compress(_ input: [UInt8]) throws(VellumError) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
        guard deflateInit2_(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw VellumError(.io, "zlib: deflateInit failed")
        }
        defer { deflateEnd(&stream) }
        let capacity = Int(deflateBound(&stream, uLong(input.count))) + 32
        let (rc, output) = pass(&stream, input, capacity) { deflate(&$0, Z_FINISH) }
        guard rc == Z_STREAM_END else { throw VellumError(.io, "zlib: deflate failed (\(rc))") }
        return output
    }

    /// Decompresses at most `limit` bytes: a status list from elsewhere must not balloon.
    public static func decompress(_ input: [UInt8], limit: Int = 16 << 20) throws(VellumError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw VellumError(.io, "zlib: inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        let (rc, output) = pass(&stream, input, limit) { inflate(&$0, Z_FINISH) }
        guard rc == Z_STREAM_END else { throw VellumError(.invalidInput, "not GZIP data, or larger than \(limit) bytes (zlib \(rc))") }
        return output
    }

    /// One zlib pass of all of `input` into at most `capacity` bytes.
    private static func pass(
        _ stream: inout z_stream, _ input: [UInt8], _ capacity: Int, _ step: (inout z_stream) -> Int32
    ) -> (Int32, [UInt8]) {
        var source = input
        var output = [UInt8](repeating: 0, count: capacity)
        let rc = source.withUnsafeMutableBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                stream.next_in = src.baseAddress
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                return step(&stream)
            }
        }
        return (rc, Array(output.prefix(Int(stream.total_out))))
    }

    /// `u` + base64url without padding of the GZIP of `bits`.
    public static func encodedList(_ list: BitstringStatusList) throws(VellumError) -> String {
        let b64 = Data(try compress(list.bytes)).base64EncodedString()
        return "u" + String(b64.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 }.filter { $0 != "=" })
    }

    /// The bits of an `encodedList`.
    public static func decodeList(_ encoded: String) throws(VellumError) -> BitstringStatusList {
        guard encoded.first == "u" else { throw VellumError(.invalidInput, "encodedList is not multibase base64url ('u')") }
        var b64 = String(encoded.dropFirst().map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64) else { throw VellumError(.invalidInput, "encodedList is not base64url") }
        return BitstringStatusList(bytes: try decompress(Array(data)))
    }
}
