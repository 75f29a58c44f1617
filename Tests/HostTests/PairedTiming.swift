import Dispatch
import Foundation
import PluginProtocol
@testable import Host

/// Compares the time two kinds of request take, at the resolution of a few microseconds on a loaded machine.
///
/// Samples are taken in pairs, one of each kind back to back, the order alternating; the figure is the median of
/// the differences within pairs. Drift (frequency scaling, other processes ramping up) moves both halves of a
/// pair alike and cancels; a stall lands on one half of one pair and moves the median by at most that pair's
/// rank; a real difference in work is in every pair. With thousands of pairs the median is good to a fraction
/// of a microsecond even when single samples vary by tens.
struct PairedTiming {
    struct Figures: CustomStringConvertible {
        /// Median of (a - b) within pairs, microseconds.
        var medianDifference: Double
        /// 10th percentiles of each kind, microseconds (what a reader compares first).
        var lowA: Double
        var lowB: Double
        var pairs: Int

        var description: String {
            String(format: "median paired difference %.2f µs over %d pairs (10th percentiles %.1f vs %.1f µs)",
                   medianDifference, pairs, lowA, lowB)
        }
    }

    static func measure(pairs: Int, warmup: Int = 200, _ a: () -> Void, _ b: () -> Void) -> Figures {
        func time(_ body: () -> Void) -> Double {
            let start = MonotonicTime.now()
            body()
            return Double(MonotonicTime.now().since(start).nanosecondsClamped) / 1000
        }
        for _ in 0..<warmup {
            a()
            b()
        }
        var differences: [Double] = []
        var timesA: [Double] = []
        var timesB: [Double] = []
        differences.reserveCapacity(pairs)
        for round in 0..<pairs {
            let (first, second) = round % 2 == 0 ? (time(a), time(b)) : (time(b), time(a))
            let (ta, tb) = round % 2 == 0 ? (first, second) : (second, first)
            differences.append(ta - tb)
            timesA.append(ta)
            timesB.append(tb)
        }
        func percentile(_ values: [Double], _ fraction: Double) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
        }
        return Figures(medianDifference: percentile(differences, 0.5), lowA: percentile(timesA, 0.1), lowB: percentile(timesB, 0.1),
                       pairs: pairs)
    }

    /// Calls `method` on `endpoint` and waits for the answer: one synchronous round trip.
    static func roundTrip(_ endpoint: any PluginEndpoint, _ method: String, _ params: JSONValue) {
        let done = DispatchSemaphore(value: 0)
        endpoint.call(method: method, params: params, timeout: nil) { _ in done.signal() }
        done.wait()
    }
}
