import CSQLite
import Foundation

/// Copies a writer's write-ahead log into the database file on a thread of its own, so that
/// the writer's commits do not wait for it: in a catch-up, SQLite's automatic checkpoint held
/// the storing thread about a tenth of the time, most of it in `fdatasync`
/// (Docs/PERFORMANCE.md).
///
/// It takes the place of the automatic checkpoint on the writer's connection (a WAL hook):
/// once the log holds `pages` pages, a commit wakes the thread, which runs a PASSIVE
/// checkpoint from a connection of its own while the writer and readers go on; the writer
/// starts the log over at its first commit after the log is fully copied. Should the log
/// still reach four times `pages` (the thread cannot keep up, or a reader holds an old
/// snapshot), the committing writer checkpoints itself, as SQLite would: the log stays bounded.
/// The thread starts on the first wake-up: a short command never has one.
final class BackgroundCheckpointer: @unchecked Sendable {
    private let path: String
    let pages: Int32
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var wanted = false
    private var stopped = false
    private var running = false
    private var passes = 0

    /// The checkpoints the thread has run.
    var completedPasses: Int {
        condition.lock()
        defer { condition.unlock() }
        return passes
    }

    init(path: String, pages: Int32) {
        self.path = path
        self.pages = pages
    }

    /// Takes over `writer`'s checkpoints, until `uninstall(from:)`, which must run before the
    /// checkpointer goes away.
    func install(on writer: SQLiteConnection) {
        sqlite3_wal_hook(writer.handle, { context, db, name, pages in
            let checkpointer = Unmanaged<BackgroundCheckpointer>.fromOpaque(context!).takeUnretainedValue()
            if pages >= 4 * checkpointer.pages {
                sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            } else if pages >= checkpointer.pages {
                checkpointer.wake()
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Removes the hook from `writer` (which then checkpoints only as it closes), and ends the
    /// thread after the pass it may be running.
    func uninstall(from writer: SQLiteConnection) {
        sqlite3_wal_hook(writer.handle, nil, nil)
        condition.lock()
        stopped = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    private func wake() {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else { return }
        wanted = true
        if running { condition.signal(); return }
        running = true
        let thread = Thread { [self] in run() }
        thread.name = "vellum-checkpoint"
        thread.start()
    }

    private func run() {
        // A checkpoint that fails (the file went away, the disk is full) is left to the next
        // wake-up or, past four times `pages`, to the writer, which reports what it finds.
        var connection = try? SQLiteConnection(path: path)
        condition.lock()
        while !stopped {
            guard wanted else { condition.wait(); continue }
            wanted = false
            condition.unlock()
            try? connection?.execute("PRAGMA wal_checkpoint(PASSIVE)")
            condition.lock()
            passes += 1
        }
        condition.unlock()
        connection = nil  // closed before `uninstall` returns
        condition.lock()
        running = false
        condition.broadcast()
        condition.unlock()
    }
}
