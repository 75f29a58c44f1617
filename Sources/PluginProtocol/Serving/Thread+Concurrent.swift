import Dispatch

extension Thread {
    /// Runs work off the serve thread for handlers registered with `registerConcurrent`.
    static func detachConcurrent(_ work: @escaping @Sendable () -> Void) {
        DispatchQueue.global().async(execute: work)
    }
}

/// Namespace for the helper above; plugins never see it.
enum Thread {}
