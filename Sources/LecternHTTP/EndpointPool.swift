import Foundation

/// How hard one endpoint of an ``EndpointPool`` may be pushed.
package struct EndpointLimits: Sendable, Hashable {
    /// Requests in flight at once.
    package var maxInFlight: Int
    /// Requests started per rate window (a minute), nil: unlimited.
    package var requestsPerMinute: Int?
    /// Tokens (estimated, then corrected to reported usage) per rate window, nil: unlimited.
    package var tokensPerMinute: Int?

    package init(maxInFlight: Int, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil) {
        self.maxInFlight = max(1, maxInFlight)
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
    }
}

/// Shares requests among endpoints (servers of one model: the chat client's LLM servers, the
/// embeddings client's): least-loaded first, within each endpoint's in-flight,
/// requests-per-minute and tokens-per-minute limits, and away from endpoints that just failed
/// (fail-over), until their cool-down ends.
package actor EndpointPool {
    package struct Lease: Sendable {
        package let index: Int
        let id: UInt64
        let estimatedTokens: Int
    }

    private struct State {
        var inFlight = 0
        /// (time, tokens) of requests started in the last minute; tokens are corrected to real usage.
        var window: [(t: Double, id: UInt64, tokens: Int)] = []
        var coolDownUntil: Double = 0
        var consecutiveFailures = 0
    }

    let endpoints: [EndpointLimits]
    private var states: [State]
    /// Successful requests per endpoint, for summaries and tests.
    private var served: [Int]
    private var nextID: UInt64 = 0
    private var roundRobin = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var timerArmedFor: Double = .infinity

    /// Length of the rate-limit window in seconds: a minute, shorter only in tests.
    let window: Double

    package init(_ endpoints: [EndpointLimits], window: Double = 60) {
        self.endpoints = endpoints
        self.window = window
        self.states = Array(repeating: State(), count: endpoints.count)
        self.served = Array(repeating: 0, count: endpoints.count)
    }

    /// Requests that succeeded on each endpoint so far, in the order the endpoints were given.
    package func servedCounts() -> [Int] { served }

    static func now() -> Double { ProcessInfo.processInfo.systemUptime }

    /// Waits for a slot on some endpoint, preferring ones not in `avoid` (those that failed this request).
    ///
    /// An avoided endpoint is taken only when every other one is cooling down. Were it taken
    /// whenever the others are merely busy, a request would bounce off a dead endpoint (which
    /// fails in a millisecond and leaves its cool-down early) until its attempts were spent, while
    /// a healthy server was a second away from a free slot.
    package func acquire(estimatedTokens: Int, avoid: Set<Int>) async -> Lease {
        while true {
            let t = Self.now()
            var best: Int?
            var bestLoad = Double.infinity
            var bestAvoided = true
            var wakeAt = Double.infinity
            var healthyElsewhere = false
            for k in 0..<endpoints.count {
                let i = (roundRobin + k) % endpoints.count
                prune(i, now: t)
                let e = endpoints[i], s = states[i]
                if s.coolDownUntil > t { wakeAt = min(wakeAt, s.coolDownUntil); continue }
                if !avoid.contains(i) { healthyElsewhere = true }
                if s.inFlight >= e.maxInFlight { continue }
                if let rpm = e.requestsPerMinute, s.window.count >= rpm {
                    wakeAt = min(wakeAt, (s.window.first?.t ?? t) + window); continue
                }
                if let tpm = e.tokensPerMinute, !s.window.isEmpty,
                   s.window.reduce(0, { $0 + $1.tokens }) + estimatedTokens > tpm {
                    wakeAt = min(wakeAt, (s.window.first?.t ?? t) + window); continue
                }
                let load = Double(s.inFlight) / Double(e.maxInFlight)
                let avoided = avoid.contains(i)
                if (bestAvoided && !avoided) || (avoided == bestAvoided && load < bestLoad) {
                    best = i; bestLoad = load; bestAvoided = avoided
                }
            }
            if let i = best, !(bestAvoided && healthyElsewhere) {
                roundRobin = (i + 1) % endpoints.count
                nextID &+= 1
                states[i].inFlight += 1
                states[i].window.append((t, nextID, estimatedTokens))
                return Lease(index: i, id: nextID, estimatedTokens: estimatedTokens)
            }
            if wakeAt < .infinity { armTimer(at: wakeAt) }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    /// Ends a lease. `usedTokens` replaces the estimate in the rate window. `failed == true` with
    /// `retryAfter` cools the endpoint down for that long, other failures for a growing while;
    /// `nil` (the request's own fault, e.g. HTTP 400) says nothing about the endpoint's health.
    package func release(_ lease: Lease, usedTokens: Int?, failed: Bool?, retryAfter: Double?) {
        var s = states[lease.index]
        s.inFlight -= 1
        if let used = usedTokens, let j = s.window.firstIndex(where: { $0.id == lease.id }) {
            s.window[j].tokens = used
        }
        let t = Self.now()
        if failed == true {
            s.consecutiveFailures += 1
            let backoff = retryAfter ?? min(30, 0.25 * pow(2, Double(min(s.consecutiveFailures, 8) - 1)))
            s.coolDownUntil = max(s.coolDownUntil, t + backoff)
        } else if failed == false {
            served[lease.index] += 1
            s.consecutiveFailures = 0
            s.coolDownUntil = 0
        }
        states[lease.index] = s
        wakeAll()
    }

    private func prune(_ i: Int, now t: Double) {
        let w = states[i].window
        if let first = w.first, first.t <= t - window {
            states[i].window.removeAll { $0.t <= t - window }
        }
    }

    private func wakeAll() {
        let w = waiters
        waiters.removeAll()
        for c in w { c.resume() }
    }

    private func armTimer(at t: Double) {
        guard t < timerArmedFor else { return }
        timerArmedFor = t
        let delay = max(0.001, t - Self.now())
        Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            await self?.timerFired(t)
        }
    }

    private func timerFired(_ t: Double) {
        if timerArmedFor == t { timerArmedFor = .infinity }
        wakeAll()
    }
}
