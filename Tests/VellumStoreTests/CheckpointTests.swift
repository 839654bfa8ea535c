import Foundation
import Testing
@testable import VellumStore

/// The writer's write-ahead log is copied into the database file by a thread of its own once
/// it passes its size, so that commits do not wait for it.
@Suite("Checkpoints off the writer's thread")
struct CheckpointTests {
    @Test("past the log's size, a thread of its own copies it into the database file; the writer's commits stay below the size at which it would copy it itself, and every row stays readable")
    func backgroundCheckpoint() throws {
        let dir = LedgerStoreTests.tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/" + LedgerStore.fileName
        let value = String(repeating: "v", count: 60_000)  // about 8 pages of 8 KiB per commit
        func databaseBytes() throws -> Int { try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int }
        do {
            let store = try LedgerStore(path: path, create: true, readOnly: false, checkpointPages: 64)
            let checkpointer = try #require(store.checkpointer)
            let before = try databaseBytes()
            // 20 commits of about 8 pages: past 64 pages, short of the 256 at which the writer
            // would checkpoint itself.
            for i in 0..<20 { try store.transaction { try store.setMeta("k\(i)", value) } }
            let deadline = Date().addingTimeInterval(10)
            while checkpointer.completedPasses == 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            #expect(checkpointer.completedPasses >= 1, "no checkpoint ran off the writer's thread")
            #expect(try databaseBytes() > before + 64 * 8192, "the database file did not receive the log's pages")
        }
        let reopened = try LedgerStore(path: path, create: false)
        for i in 0..<20 { #expect(try reopened.meta("k\(i)") == value) }
    }
}
