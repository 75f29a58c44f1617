import Glibc
import Synchronization

/// Writes whole byte runs to a file descriptor from any thread, one run at a time.
///
/// Lines written through it are never interleaved, which is what keeps stdout a clean protocol stream
/// when concurrent handlers answer at the same time as the serve loop.
public final class FileDescriptorWriter: Sendable {
    private let fd: Int32
    private let lock = Mutex<Void>(())

    public init(fd: Int32) { self.fd = fd }

    /// Writes every byte, retrying on partial writes and EINTR. Returns false if the descriptor is gone.
    @discardableResult
    public func writeAll(_ bytes: [UInt8]) -> Bool {
        lock.withLock { _ in
            bytes.withUnsafeBytes { raw in Self.writeAll(fd: fd, raw) }
        }
    }

    public static func writeAll(fd: Int32, _ raw: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < raw.count {
            let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}
