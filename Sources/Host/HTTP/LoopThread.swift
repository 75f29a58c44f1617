import Glibc

/// Tells a handler whether the thread it finishes on is an event loop that may run a CPU-bound step itself.
///
/// An RSA-2048 signature costs about 0.3 ms. With an event loop per core, signing on the loop that holds the
/// request keeps every core signing and costs no thread hop (a Dispatch enqueue, a wake-up and an eventfd write
/// back to the loop: together a tenth of the host's time at RS256 issuance). With fewer loops than cores the
/// loops would leave cores idle, and on any other thread (a plugin's reader) the step would hold up every
/// answer behind it: there it goes to a worker.
enum LoopThread {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Called once by each loop's thread before it serves.
    static func markCurrent(loopsCoverCores: Bool) {
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: loopsCoverCores ? 2 : 1))
    }

    /// Whether the current thread is an event loop, one of at least as many as there are cores.
    static var mayRunCPUBoundWork: Bool {
        pthread_getspecific(key) == UnsafeMutableRawPointer(bitPattern: 2)
    }
}
