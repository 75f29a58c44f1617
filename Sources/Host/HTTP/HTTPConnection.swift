import Glibc
import SystemShims

/// One client connection: its socket and its state machine. Owned by one event loop and touched only on its
/// thread; the loop does the system calls, the machine decides (ConnectionStateMachine.swift).
final class HTTPConnection {
    let fd: Int32
    /// Distinguishes this connection from a later one that reuses the same descriptor number.
    let serial: UInt64
    var machine: ConnectionStateMachine

    init(fd: Int32, remoteAddress: String, serial: UInt64, limits: HTTPLimits, now: MonotonicTime) {
        self.fd = fd
        self.serial = serial
        machine = ConnectionStateMachine(remoteAddress: remoteAddress, limits: limits, now: now)
    }

    var remoteAddress: String { machine.remoteAddress }

    /// One `send` of the unsent output; its result goes to the machine.
    func send(now: MonotonicTime) {
        let written = machine.withUnsentOutput { raw in Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)) }
        if written >= 0 {
            machine.handle(.sent(written), now: now)
        } else if errno == EAGAIN || errno == EWOULDBLOCK {
            machine.handle(.sendWouldBlock, now: now)
        } else if errno != EINTR {
            machine.handle(.failed, now: now)
        }
    }

    /// Reads while the machine wants input, at most `reads` times (so one busy connection cannot starve the
    /// others: epoll is level-triggered and comes back), into `scratch`.
    func read(into scratch: inout [UInt8], reads: Int = 4) {
        var remaining = reads
        while remaining > 0, machine.wantsToRead {
            let count = scratch.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                machine.handle(.received(scratch[0..<count]), now: .now())
                if count < scratch.count { return }
                remaining -= 1
            } else if count == 0 {
                return machine.handle(.inputEnded, now: .now())
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return
            } else if errno != EINTR {
                return machine.handle(.failed, now: .now())
            }
        }
    }
}
