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
/// still reach twice `pages` (the thread cannot keep up, or a reader holds an old snapshot),
/// the committing writer checkpoints itself, as SQLite's automatic checkpoint would. The
/// thread starts on the first wake-up: a short command never has one.
final class BackgroundCheckpointer: @unchecked Sendable {
    /// The writer's database file, as the writer opened it.
    private let path: String
    let pages: Int32
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var wanted = false
    private var stopped = false
    private var running = false
    private var passes = 0

    /// The checkpoint passes the thread has run.
    var completedPasses: Int { condition.withLock { passes } }

    /// Whether the thread is alive.
    var isRunning: Bool { condition.withLock { running } }

    /// Takes over `writer`'s checkpoints, until `uninstall(from:)`, which must run before the
    /// checkpointer goes away.
    init(installingOn writer: SQLiteConnection, pages: Int32) {
        path = String(cString: sqlite3_db_filename(writer.handle, "main"))
        self.pages = pages
        sqlite3_wal_hook(writer.handle, { context, db, name, pages in
            let checkpointer = Unmanaged<BackgroundCheckpointer>.fromOpaque(context!).takeUnretainedValue()
            if pages >= 2 * checkpointer.pages {
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
        var connection: SQLiteConnection?
        condition.lock()
        while !stopped {
            guard wanted else { condition.wait(); continue }
            wanted = false
            condition.unlock()
            // Opened on the first pass, and again after a failure, never creating the file: a
            // pass that fails (the file went away, too many open files) is retried at the next
            // wake-up, and past twice `pages` the writer checkpoints itself meanwhile.
            let done: Bool
            do {
                let c = try connection ?? SQLiteConnection(path: path, create: false)
                connection = c
                // Through the pragma, not `sqlite3_wal_checkpoint_v2`: on this connection, that
                // call did nothing in a real sync (the log grew to 342 MB, the file received none of it).
                done = try c.prepare("PRAGMA wal_checkpoint(PASSIVE)").step()
            } catch {
                connection = nil
                done = false
            }
            condition.lock()
            if done { passes += 1 }
        }
        condition.unlock()
        connection = nil  // closed before `uninstall` returns
        condition.withLock {
            running = false
            condition.broadcast()
        }
    }
}
