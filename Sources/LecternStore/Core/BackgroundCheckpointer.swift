import Foundation
import GRDB

/// Moves WAL checkpoints off the writing thread during a bulk write.
///
/// In WAL mode every page is written twice: once into the WAL at commit, once into the
/// database file by a checkpoint, which SQLite runs inside the commit that crosses
/// `wal_autocheckpoint` and which ends with an `fsync`. During a bulk load that is a third of
/// the writer's time spent copying and waiting for the disk. Here the writer's automatic
/// checkpoints are off and a second connection, on a thread of its own, runs a `PASSIVE`
/// checkpoint after every commit, beside the next transaction.
///
/// A WAL only starts over from its beginning when a transaction starts with every frame
/// already copied, which a checkpointer that trails the writer by one commit never achieves.
/// So after `restartBytes` of commits the writer waits for the checkpointer and checkpoints
/// the rest itself, and the WAL stays within about `restartBytes` plus one transaction.
///
/// Durability is unchanged (`synchronous = NORMAL`, the same checkpoints, the same fsyncs),
/// and a crash at any moment leaves a valid file: checkpoints are SQLite's own.
public final class BackgroundCheckpointer: @unchecked Sendable {
    private let writer: DatabasePool
    private let worker: Worker
    private let restartBytes: Int
    private var sinceRestart = 0
    private let previousAutocheckpoint: Int
    private var finished = false

    /// Starts the checkpointing thread for `store`. Call ``finish()`` when the bulk write ends.
    public init(store: Store, restartBytes: Int = 128 << 20) throws {
        self.writer = store.pool
        self.restartBytes = max(1, restartBytes)
        let worker = Worker(try DatabaseQueue(path: store.path, configuration: Store.configuration()))
        self.worker = worker
        previousAutocheckpoint = try store.pool.writeWithoutTransaction { db -> Int in
            let previous = try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") ?? 1000
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            return previous
        }
        // The thread holds the worker, not this object, so that it may outlive it.
        let thread = Thread { worker.loop() }
        thread.name = "lectern-checkpoint"
        thread.start()
    }

    deinit { if !finished { worker.stop() } }

    /// Tells the checkpointer that the writer committed `bytes` more (roughly: the payload).
    /// Call it outside any transaction, on the writer's thread.
    public func committed(bytes: Int) throws {
        sinceRestart += bytes
        let restart = sinceRestart >= restartBytes
        try worker.request(wait: restart)
        if restart {
            // Every frame but the last commit's is copied; copying those here lets the next
            // transaction start the WAL over.
            try writer.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") }
            sinceRestart = 0
        }
    }

    /// Waits for the last checkpoint, stops the thread and gives the writer its automatic
    /// checkpoints back. Throws what the checkpointer hit, if anything.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        let failure = worker.stop()
        try writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(previousAutocheckpoint)")
        }
        if let failure { throw failure }
    }

    /// The thread's side: counts of requested and completed checkpoints under one condition.
    private final class Worker: @unchecked Sendable {
        private let connection: DatabaseQueue
        private let condition = NSCondition()
        private var requested = 0
        private var completed = 0
        private var stopping = false
        private var running = true
        private var failure: Error?

        init(_ connection: DatabaseQueue) { self.connection = connection }

        func request(wait: Bool) throws {
            condition.lock()
            defer { condition.unlock() }
            requested += 1
            condition.broadcast()
            if wait { while completed < requested && running { condition.wait() } }
            if let failure { throw failure }
        }

        /// Lets the pending checkpoint finish, ends the thread, returns the first failure.
        @discardableResult
        func stop() -> Error? {
            condition.lock()
            defer { condition.unlock() }
            stopping = true
            condition.broadcast()
            while running { condition.wait() }
            return failure
        }

        func loop() {
            condition.lock()
            while true {
                while requested == completed && !stopping { condition.wait() }
                if requested == completed { break }
                let target = requested
                condition.unlock()
                var error: Error?
                do {
                    try connection.inDatabase { try $0.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") }
                } catch let e {
                    error = e
                }
                condition.lock()
                if failure == nil { failure = error }
                completed = target
                condition.broadcast()
            }
            running = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
