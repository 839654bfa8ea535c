import Foundation
import VellumCore

/// The standards' public test vectors, copied from ../shared/vectors into Tests/Vectors
/// (each folder's SOURCES.txt names its origin and licence).
enum Vectors {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Vectors")

    static func url(_ path: String) -> URL { root.appendingPathComponent(path) }
    static func data(_ path: String) throws -> Data { try Data(contentsOf: url(path)) }
    static func text(_ path: String) throws -> String { String(decoding: try data(path), as: UTF8.self) }
    static func json(_ path: String) throws -> JSON { try JSON(parsing: Array(try data(path))) }
    static func files(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url(dir).path).sorted()
    }
}

func bytes(_ hex: String) -> [UInt8] { Hex.decode(hex)! }
