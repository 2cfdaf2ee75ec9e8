import Dispatch

/// Runs async work to completion from synchronous code and returns its result (or throws its
/// error): the one bridge between the synchronous stage API (an `Embedder`'s `embed`, a command
/// run from `lectern run`) and the async HTTP clients.
///
/// The work runs as a detached task on the cooperative pool while the calling thread waits on a
/// semaphore, so the caller must not itself be a task of that pool (it would hold one of its
/// threads while waiting): call it from a plain thread, as the commands and stages do.
public func runBlocking<T>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    guard let result = box.result else { preconditionFailure("the task signalled without a result") }
    return try result.get()
}

/// Carries a result out of the task to the thread waiting on the semaphore (written before the
/// signal, read after the wait: the semaphore orders the two).
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
