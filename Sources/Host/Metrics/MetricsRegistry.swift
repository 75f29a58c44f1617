import Synchronization

/// Counters, gauges and histograms with labels, rendered in the Prometheus text exposition format 0.0.4.
///
/// Families are registered once at start-up; each keeps its own lock, so requests on different threads
/// contend only when they touch the same family. Label values come from a bounded set (routes, statuses,
/// known client ids, plugin names): never put attacker-chosen text in a label.
public final class MetricsRegistry: Sendable {
    private let families = Mutex<[MetricFamily]>([])
    /// Families computed at scrape time (process and plugin state).
    private let collectors = Mutex<[@Sendable () -> [MetricFamily.Snapshot]]>([])

    public init() {}

    public func counter(_ name: String, help: String, labels: [String] = []) -> MetricFamily {
        register(MetricFamily(name: name, help: help, kind: .counter, labelNames: labels))
    }

    public func gauge(_ name: String, help: String, labels: [String] = []) -> MetricFamily {
        register(MetricFamily(name: name, help: help, kind: .gauge, labelNames: labels))
    }

    public func histogram(_ name: String, help: String, labels: [String] = [],
                          buckets: [Double] = MetricFamily.defaultDurationBuckets) -> MetricFamily
    {
        register(MetricFamily(name: name, help: help, kind: .histogram(buckets: buckets), labelNames: labels))
    }

    /// Adds families computed when scraped.
    public func collect(_ collector: @escaping @Sendable () -> [MetricFamily.Snapshot]) {
        collectors.withLock { $0.append(collector) }
    }

    private func register(_ family: MetricFamily) -> MetricFamily {
        families.withLock { $0.append(family) }
        return family
    }

    /// The exposition text (`Content-Type: text/plain; version=0.0.4; charset=utf-8`).
    public func render() -> String {
        let snapshots = families.withLock { $0 }.map { $0.snapshot() } + collectors.withLock { $0 }.flatMap { $0() }
        var out = ""
        for snapshot in snapshots.sorted(by: { $0.name < $1.name }) { snapshot.render(into: &out) }
        return out
    }
}

/// One metric name with its HELP, TYPE and labelled series.
public final class MetricFamily: Sendable {
    public enum Kind: Sendable {
        case counter
        case gauge
        case histogram(buckets: [Double])

        var typeName: String {
            switch self {
            case .counter: return "counter"
            case .gauge: return "gauge"
            case .histogram: return "histogram"
            }
        }
    }

    public static let defaultDurationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public let name: String
    public let help: String
    public let kind: Kind
    public let labelNames: [String]

    /// Per label-value tuple: the value (counters, gauges) or bucket counts + sum + count (histograms).
    private let series = Mutex<[[String]: Series]>([:])

    struct Series: Sendable {
        var value = 0.0
        var buckets: [UInt64] = []
        var sum = 0.0
        var count: UInt64 = 0

        mutating func record(_ observed: Double, bounds: [Double]) {
            if let index = bounds.firstIndex(where: { observed <= $0 }) { buckets[index] += 1 }
            sum += observed
            count += 1
        }
    }

    init(name: String, help: String, kind: Kind, labelNames: [String]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.labelNames = labelNames
    }

    public func increment(_ labels: [String] = [], by amount: Double = 1) {
        series.withLock { $0[labels, default: Series()].value += amount }
    }

    public func set(_ labels: [String] = [], to value: Double) {
        series.withLock { $0[labels, default: Series()].value = value }
    }

    public func observe(_ labels: [String] = [], _ value: Double) {
        guard case .histogram(let bounds) = kind else { return }
        // Changed in place: a copy taken out and stored back copied the buckets on every request.
        series.withLock { all in
            all[labels, default: Series(buckets: [UInt64](repeating: 0, count: bounds.count))].record(value, bounds: bounds)
        }
    }

    /// The current value of one series (tests and readiness).
    public func value(_ labels: [String] = []) -> Double { series.withLock { $0[labels]?.value ?? 0 } }
    public func count(_ labels: [String] = []) -> UInt64 { series.withLock { $0[labels]?.count ?? 0 } }

    func snapshot() -> Snapshot {
        let copy = series.withLock { $0 }
        var samples: [Snapshot.Sample] = []
        for (labels, entry) in copy.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let pairs = Array(zip(labelNames, labels))
            switch kind {
            case .counter, .gauge:
                samples.append(.init(suffix: "", labels: pairs, value: entry.value))
            case .histogram(let bounds):
                var cumulative: UInt64 = 0
                for (index, bound) in bounds.enumerated() {
                    cumulative += entry.buckets[index]
                    samples.append(.init(suffix: "_bucket", labels: pairs + [("le", Snapshot.format(bound))], value: Double(cumulative)))
                }
                samples.append(.init(suffix: "_bucket", labels: pairs + [("le", "+Inf")], value: Double(entry.count)))
                samples.append(.init(suffix: "_sum", labels: pairs, value: entry.sum))
                samples.append(.init(suffix: "_count", labels: pairs, value: Double(entry.count)))
            }
        }
        return Snapshot(name: name, help: help, type: kind.typeName, samples: samples)
    }

    /// A family's state at scrape time, ready to render.
    public struct Snapshot: Sendable {
        public struct Sample: Sendable {
            public var suffix: String
            public var labels: [(String, String)]
            public var value: Double

            public init(suffix: String = "", labels: [(String, String)] = [], value: Double) {
                self.suffix = suffix
                self.labels = labels
                self.value = value
            }
        }

        public var name: String
        public var help: String
        public var type: String
        public var samples: [Sample]

        public init(name: String, help: String, type: String, samples: [Sample]) {
            self.name = name
            self.help = help
            self.type = type
            self.samples = samples
        }

        func render(into out: inout String) {
            // Exposition format: HELP escapes \ and newline; label values also escape ".
            out += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
            out += "# TYPE \(name) \(type)\n"
            for sample in samples {
                out += name + sample.suffix
                if !sample.labels.isEmpty {
                    out += "{" + sample.labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                }
                out += " " + Self.format(sample.value) + "\n"
            }
        }

        static func escapeLabel(_ value: String) -> String {
            var out = ""
            for character in value {
                switch character {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case "\n": out += "\\n"
                default: out.append(character)
                }
            }
            return out
        }

        static func format(_ value: Double) -> String {
            if value.isNaN { return "NaN" }
            if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
            if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
            return value.description
        }
    }
}
