import Foundation
import Testing
@testable import VellumStore

/// The writer's write-ahead log is copied into the database file by a thread of its own once
/// it passes its size, so that commits do not wait for it.
@Suite("Checkpoints off the writer's thread")
struct CheckpointTests {
    @Test("past the log's size, a thread of its own copies it into the database file; every row stays readable, and the thread ends with the store")
    func backgroundCheckpoint() throws {
        let dir = LedgerStoreTests.tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/" + LedgerStore.fileName
        let value = String(repeating: "v", count: 30_000)  // about 4 pages of 8 KiB per commit
        func bytes(_ file: String) throws -> Int { try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int }
        let checkpointer: BackgroundCheckpointer
        do {
            let store = try LedgerStore(path: path, create: true, readOnly: false, checkpointPages: 100)
            checkpointer = try #require(store.checkpointer)
            try store.checkpoint()  // the log empty: the schema's pages are in the file
            let before = try bytes(path)
            // 40 commits of about 4 pages: past 100 pages after 25 or so, short of the 200 at
            // which the writer would checkpoint itself.
            for i in 0..<40 { try store.transaction { try store.setMeta("k\(i)", value) } }
            let deadline = Date().addingTimeInterval(10)
            while try bytes(path) < before + 20 * 30_000 || checkpointer.completedPasses == 0, Date() < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
            #expect(try bytes(path) >= before + 20 * 30_000, "the database file did not receive the log's pages")
            #expect(checkpointer.completedPasses >= 1, "no checkpoint ran off the writer's thread")
            #expect(checkpointer.isRunning)
            withExtendedLifetime(store) {}
        }
        #expect(!checkpointer.isRunning, "the thread outlived its store")
        let reopened = try LedgerStore(path: path, create: false)
        for i in 0..<40 { #expect(try reopened.meta("k\(i)") == value) }
    }
}
