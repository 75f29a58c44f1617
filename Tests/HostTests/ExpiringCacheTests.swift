import Synchronization
import Testing
@testable import Host

/// The one expiring, bounded cache, on a clock the test moves by hand.
@Suite struct ExpiringCacheTests {
    final class TestClock: Sendable {
        private let now = Mutex(MonotonicTime(nanoseconds: 1_000_000_000))
        func read() -> MonotonicTime { now.withLock { $0 } }
        func advance(_ duration: Duration) { now.withLock { $0 = $0 + duration } }
    }

    private func cache(_ maxEntries: Int = 100) -> (ExpiringCache<String, Int>, TestClock) {
        let clock = TestClock()
        return (ExpiringCache(maxEntries: maxEntries, clock: { clock.read() }), clock)
    }

    @Test func anEntryLivesExactlyItsTTL() {
        let (cache, clock) = cache()
        cache.store(1, for: "a", ttl: .milliseconds(500))
        #expect(cache.value(for: "a") == 1)
        clock.advance(.milliseconds(499))
        #expect(cache.value(for: "a") == 1)
        clock.advance(.milliseconds(1))
        #expect(cache.value(for: "a") == nil)
        #expect(cache.count == 0, "an expired entry found by a lookup is dropped")
    }

    @Test func aZeroOrNegativeTTLStoresNothing() {
        let (cache, _) = cache()
        cache.store(1, for: "a", ttl: .zero)
        cache.store(2, for: "b", ttl: .milliseconds(-5))
        #expect(cache.value(for: "a") == nil && cache.value(for: "b") == nil && cache.count == 0)
        cache.store(3, for: "a", ttl: .seconds(1))
        cache.store(4, for: "a", ttl: .zero)
        #expect(cache.value(for: "a") == 3, "an answer that may not be cached does not replace one that may")
        let (off, _) = self.cache(0)
        off.store(1, for: "a", ttl: .seconds(1))
        #expect(off.value(for: "a") == nil)
    }

    @Test func aNewerValueReplacesTheOlder() {
        let (cache, clock) = cache()
        cache.store(1, for: "a", ttl: .seconds(1))
        cache.store(2, for: "a", ttl: .seconds(10))
        clock.advance(.seconds(5))
        #expect(cache.value(for: "a") == 2)
    }

    @Test func invalidationByKeyByKeysAndAll() {
        let (cache, _) = cache()
        for (index, key) in ["a", "b", "c", "d"].enumerated() { cache.store(index, for: key, ttl: .seconds(10)) }
        cache.remove("a")
        #expect(cache.value(for: "a") == nil && cache.value(for: "b") == 1)
        cache.remove(["b", "c", "unknown"])
        #expect(cache.value(for: "b") == nil && cache.value(for: "c") == nil && cache.value(for: "d") == 3)
        cache.removeAll()
        #expect(cache.count == 0)
    }

    @Test func theBoundHoldsAndExpiredEntriesGoFirst() {
        let (cache, clock) = cache(8)
        for index in 0..<6 { cache.store(index, for: "old\(index)", ttl: .seconds(1)) }
        cache.store(6, for: "live6", ttl: .seconds(60))
        cache.store(7, for: "live7", ttl: .seconds(60))
        #expect(cache.count == 8)
        clock.advance(.seconds(2))
        cache.store(8, for: "new", ttl: .seconds(60))
        // Full: the six expired entries were swept, the live ones kept.
        #expect(cache.count == 3)
        #expect(cache.value(for: "live6") == 6 && cache.value(for: "live7") == 7 && cache.value(for: "new") == 8)
        // Replacing a key in a full cache sweeps nothing.
        for index in 0..<5 { cache.store(index, for: "more\(index)", ttl: .seconds(60)) }
        #expect(cache.count == 8)
        cache.store(99, for: "live6", ttl: .seconds(60))
        #expect(cache.count == 8 && cache.value(for: "live6") == 99)
    }

    @Test func aFloodOfLiveKeysNeverExceedsTheBound() {
        let (cache, _) = cache(1000)
        var largest = 0
        for index in 0..<10_000 {
            cache.store(index, for: "k\(index)", ttl: .seconds(60))
            largest = max(largest, cache.count)
        }
        #expect(largest == 1000)
        #expect(cache.value(for: "k9999") == 9999, "the newest entry survives the sweep it caused")
    }
}
