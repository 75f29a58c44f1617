import SystemShims

/// Names the calling thread for the kernel, so `top -H`, `perf` and core dumps show what it is.
/// (Foundation's `Thread.name` is not passed to the kernel on Linux; such threads all show as
/// `-qos.overcommit`.) Linux keeps 15 bytes; longer names are cut.
enum ThreadName {
    static func set(_ name: String) { _ = gatehouse_set_thread_name(name) }
}
