import Foundation
import Glibc

/// The standard `process_*` metrics (Prometheus client library conventions), read from /proc at scrape time.
enum ProcessMetrics {
    /// Boot time (`btime` in /proc/stat) plus the process's start in clock ticks (field 22 of /proc/self/stat).
    static let startTime: Double = {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let afterName = stat.lastIndex(of: ")"),
            let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let bootLine = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
            let boot = Double(bootLine.dropFirst(6))
        else { return Double(time(nil)) }
        // Fields after "(comm)" start at field 3, so starttime (field 22) is index 19 here.
        let fields = stat[stat.index(after: afterName)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return Double(time(nil)) }
        return boot + ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }()

    static func snapshots() -> [MetricFamily.Snapshot] {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        var resident = 0.0
        var virtual = 0.0
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ").compactMap { Double($0) }
            if fields.count >= 2 {
                virtual = fields[0] * pageSize
                resident = fields[1] * pageSize
            }
        }
        let openFDs = Double((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        func gauge(_ name: String, _ help: String, _ value: Double, type: String = "gauge") -> MetricFamily.Snapshot {
            MetricFamily.Snapshot(name: name, help: help, type: type, samples: [.init(value: value)])
        }
        return [
            gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", cpu, type: "counter"),
            gauge("process_resident_memory_bytes", "Resident memory size in bytes.", resident),
            gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", virtual),
            gauge("process_open_fds", "Number of open file descriptors.", openFDs),
            gauge("process_max_fds", "Maximum number of open file descriptors.", Double(limit.rlim_cur)),
            gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", startTime),
        ]
    }
}
