/// A backtracking matcher for ``MinePattern`` over UTF-8 bytes, with the semantics of Python's
/// `re.findall(pattern, text, re.IGNORECASE)`: leftmost match first, alternatives tried in
/// order, greedy quantifiers that give back one code point at a time, quantifier counts in
/// code points (not bytes), and the next search starting where the previous match ended.
///
/// Why hand-written: Foundation's `NSRegularExpression` and Swift's `Regex` are an order of
/// magnitude slower than needed on these shapes, and neither promises Python's case folding
/// (`ſ` matches `s`, `K` (Kelvin) matches `k`, `İ`/`ı` match `i`) or Python's `\s`.
///
/// The matcher never allocates while matching; captures are byte ranges into the text.
///
/// Failures are memoised: whether the rest of a pattern matches after a quantified item depends
/// only on (item, position), since the patterns have no backreferences or lookarounds, so once
/// a continuation has failed at a position it is never tried there again (the first match found,
/// and its groups, are the ones plain backtracking finds). Without it, AdaptLLM's `topic` pattern
/// (`[.!?]+[\s]+` then `[^.!?,;\n]{20,}` then `[\s]+`: three quantifiers that all take spaces)
/// is cubic in a run of spaces: 40 s on 1,243 man pages whose footers hold runs of hundreds
/// (Python's `re` has the same blow-up: 361 s).
///
/// ## Topics
/// - ``init(_:)``
/// - ``findAll(in:)``
/// - ``forEachMatch(in:_:)``
public final class PatternMatcher: @unchecked Sendable {
    /// The compiled pattern.
    public let pattern: MinePattern

    // Flat program. Immutable after init, so sharing between threads is safe.
    private let itemKind: UnsafeMutableBufferPointer<UInt8>   // 0 set, 1 letter, 2 scalar, 3 any
    private let itemValue: UnsafeMutableBufferPointer<UInt32> // set index / letter / scalar
    private let itemMin: UnsafeMutableBufferPointer<Int>
    private let itemMax: UnsafeMutableBufferPointer<Int>
    private let branchStart: UnsafeMutableBufferPointer<Int>  // first item of each branch
    private let branchEnd: UnsafeMutableBufferPointer<Int>
    private let groupFirstBranch: UnsafeMutableBufferPointer<Int>
    private let groupEndBranch: UnsafeMutableBufferPointer<Int>
    private let setASCII: UnsafeMutableBufferPointer<Bool>    // 128 per set
    private let setNonASCII: UnsafeMutableBufferPointer<UInt8> // CharClass.NonASCII as 0...3
    private let canStart: UnsafeMutableBufferPointer<Bool>    // 256, by first byte
    // 256 per item: bytes that can begin whatever must follow the item's repetitions. A greedy
    // item gives back code points only to positions whose byte passes, which skips recursions
    // that would fail on their first byte (same result, as those attempts cannot succeed).
    private let canFollow: UnsafeMutableBufferPointer<Bool>
    private let nGroups: Int
    private let nItems: Int
    /// The pattern opens with one unbounded greedy item (`([\s]+)...`, `([.!?]+...`): a start
    /// inside the run a failed start already covered cannot match (see `forEachMatch`).
    private let leadingRun: Bool

    /// Compiles `pattern` into the matcher's flat program.
    public init(_ pattern: MinePattern) {
        self.pattern = pattern
        var kinds: [UInt8] = [], values: [UInt32] = [], mins: [Int] = [], maxs: [Int] = []
        var bStart: [Int] = [], bEnd: [Int] = [], gFirst: [Int] = [], gEnd: [Int] = []
        var sets: [CharClass] = []
        for g in pattern.groups {
            gFirst.append(bStart.count)
            for br in g.branches {
                bStart.append(kinds.count)
                for it in br {
                    switch it.atom {
                    case .set(let c):
                        kinds.append(0)
                        if let k = sets.firstIndex(of: c) { values.append(UInt32(k)) } else {
                            values.append(UInt32(sets.count)); sets.append(c)
                        }
                    case .letter(let l): kinds.append(1); values.append(UInt32(l))
                    case .scalar(let v): kinds.append(2); values.append(v)
                    case .any: kinds.append(3); values.append(0)
                    }
                    mins.append(it.min); maxs.append(it.max)
                }
                bEnd.append(kinds.count)
            }
            gEnd.append(bStart.count)
        }
        func buf<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
            let p = UnsafeMutableBufferPointer<T>.allocate(capacity: max(a.count, 1))
            _ = p.initialize(from: a)
            return p
        }
        itemKind = buf(kinds); itemValue = buf(values); itemMin = buf(mins); itemMax = buf(maxs)
        branchStart = buf(bStart); branchEnd = buf(bEnd)
        groupFirstBranch = buf(gFirst); groupEndBranch = buf(gEnd)
        setASCII = buf(sets.flatMap { $0.ascii })
        setNonASCII = buf(sets.map { c -> UInt8 in
            switch c.nonASCII { case .none: 0; case .all: 1; case .allButSpace: 2; case .onlySpace: 3 }
        })
        nGroups = pattern.groups.count
        nItems = kinds.count
        let first = pattern.groups[0]
        leadingRun = first.branches.count == 1 && first.branches[0].first.map { $0.max == Int.max } ?? false

        // Which first bytes can begin a match: those whose code point can match the first
        // item of some branch of the first group (every byte if that item is optional).
        var starts = Array(repeating: false, count: 256)
        let g0 = pattern.groups[0]
        for br in g0.branches {
            let it = br[0]
            if it.min == 0 { for b in 0..<256 where b < 0x80 || b >= 0xC0 { starts[b] = true }; continue }
            for b in 0..<128 where Self.atomMatches(it.atom, UInt32(b)) { starts[b] = true }
            var nonASCII = false
            switch it.atom {
            case .set(let c): nonASCII = c.nonASCII != .none
            case .letter(let l): nonASCII = l == 0x69 || l == 0x6B || l == 0x73
            case .scalar(let v): nonASCII = v >= 0x80
            case .any: nonASCII = true
            }
            if nonASCII { for b in 0xC0..<256 { starts[b] = true } }
        }
        canStart = buf(starts)

        func firstBytes(_ it: Item) -> [Bool] {
            if it.min == 0 { return Array(repeating: true, count: 256) }
            var t = Array(repeating: false, count: 256)
            for b in 0..<128 where Self.atomMatches(it.atom, UInt32(b)) { t[b] = true }
            for b in 0xC0..<256 { t[b] = true }  // any non-ASCII lead byte: decided by the full check
            return t
        }
        func groupFirstBytes(_ g: Int) -> [Bool] {
            guard g < pattern.groups.count else { return Array(repeating: true, count: 256) }
            var t = Array(repeating: false, count: 256)
            for br in pattern.groups[g].branches {
                for (i, v) in firstBytes(br[0]).enumerated() where v { t[i] = true }
            }
            return t
        }
        var follow: [Bool] = []
        for (g, group) in pattern.groups.enumerated() {
            for br in group.branches {
                for k in br.indices {
                    follow += k + 1 < br.count ? firstBytes(br[k + 1]) : groupFirstBytes(g + 1)
                }
            }
        }
        canFollow = buf(follow)
    }

    deinit {
        for p in [itemMin, itemMax, branchStart, branchEnd, groupFirstBranch, groupEndBranch] { p.deallocate() }
        itemKind.deallocate(); itemValue.deallocate(); setASCII.deallocate(); setNonASCII.deallocate()
        canStart.deallocate(); canFollow.deallocate()
    }

    /// Slow reference used only to build the start table.
    private static func atomMatches(_ a: Atom, _ c: UInt32) -> Bool {
        switch a {
        case .set(let cls):
            if c < 0x80 { return cls.ascii[Int(c)] }
            switch cls.nonASCII {
            case .none: return false
            case .all: return true
            case .allButSpace: return !isPythonSpace(c)
            case .onlySpace: return isPythonSpace(c)
            }
        case .letter(let l): return foldedLetterMatches(l, c)
        case .scalar(let v): return v == c
        case .any: return c != 0x0A
        }
    }

    /// Calls `body` with the byte ranges of each match's groups, in `re.finditer` order.
    /// `text` must be valid UTF-8 (any Swift `String`'s `utf8` view is).
    public func forEachMatch(in text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<Range<Int>>) -> Void) {
        guard let base = text.baseAddress, text.count > 0 else { return }
        let caps = UnsafeMutableBufferPointer<Range<Int>>.allocate(capacity: nGroups)
        caps.initialize(repeating: 0..<0)
        defer { caps.deallocate() }
        // One bit per (quantified item, position): "what follows the item failed here".
        let words = (nItems &* (text.count &+ 1) &+ 63) / 64
        let failed = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(words, 1))
        failed.initialize(repeating: 0)
        defer { failed.deallocate() }
        var run = Run(m: self, b: base, n: text.count, caps: caps, failed: failed)
        var pos = 0
        let n = text.count
        // A failed start at p whose first (unbounded, greedy) item also took the character at p
        // tried every continuation a start at p + width could try, and each one failed (and is
        // memoised): the later start is skipped without re-scanning the run. Same matches; a run
        // of k spaces costs O(k) instead of O(k^2).
        var failedStart = -1, failedEnd = -1
        while pos < n {
            if !canStart[Int(base[pos])] { pos += 1; continue }
            if leadingRun && pos == failedEnd {
                let (c, w) = run.decode(failedStart)
                if run.matches(0, c) && failedStart + w == pos {
                    failedStart = pos; failedEnd = pos + run.width(pos); pos = failedEnd
                    continue
                }
            }
            if run.matchAt(pos) {
                body(UnsafeBufferPointer(caps))
                let end = caps[nGroups - 1].upperBound
                if end > pos { pos = end } else { pos += run.width(pos) }
            } else {
                failedStart = pos
                pos += 1
                while pos < n && base[pos] & 0xC0 == 0x80 { pos += 1 }
                failedEnd = pos
            }
        }
    }

    /// All matches in `text`, each as its groups' strings (`re.findall` with several groups).
    public func findAll(in text: String) -> [[String]] {
        var out: [[String]] = []
        var s = text
        s.withUTF8 { buf in
            forEachMatch(in: buf) { caps in
                out.append(caps.map { String(decoding: UnsafeBufferPointer(rebasing: buf[$0]), as: UTF8.self) })
            }
        }
        return out
    }

    /// One search: recursion state over the text.
    private struct Run {
        let m: PatternMatcher
        let b: UnsafePointer<UInt8>
        let n: Int
        let caps: UnsafeMutableBufferPointer<Range<Int>>
        let failed: UnsafeMutableBufferPointer<UInt64>
        // Start offsets of the groups on the current path; ends are written when a group closes.
        var starts: [Int] = []

        init(m: PatternMatcher, b: UnsafePointer<UInt8>, n: Int, caps: UnsafeMutableBufferPointer<Range<Int>>,
             failed: UnsafeMutableBufferPointer<UInt64>) {
            self.m = m; self.b = b; self.n = n; self.caps = caps; self.failed = failed
            starts = Array(repeating: 0, count: m.nGroups)
        }

        @inline(__always) func width(_ p: Int) -> Int {
            let b0 = b[p]
            return b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4
        }

        @inline(__always) func decode(_ p: Int) -> (UInt32, Int) {
            let b0 = UInt32(b[p])
            if b0 < 0x80 { return (b0, 1) }
            if b0 < 0xE0 { return (((b0 & 0x1F) << 6) | UInt32(b[p + 1] & 0x3F), 2) }
            if b0 < 0xF0 {
                return (((b0 & 0x0F) << 12) | (UInt32(b[p + 1] & 0x3F) << 6) | UInt32(b[p + 2] & 0x3F), 3)
            }
            return (((b0 & 0x07) << 18) | (UInt32(b[p + 1] & 0x3F) << 12) | (UInt32(b[p + 2] & 0x3F) << 6)
                    | UInt32(b[p + 3] & 0x3F), 4)
        }

        @inline(__always) func matches(_ k: Int, _ c: UInt32) -> Bool {
            let v = m.itemValue[k]
            switch m.itemKind[k] {
            case 0:
                if c < 0x80 { return m.setASCII[Int(v) &* 128 &+ Int(c)] }
                switch m.setNonASCII[Int(v)] {
                case 0: return false
                case 1: return true
                case 2: return !isPythonSpace(c)
                default: return isPythonSpace(c)
                }
            case 1: return foldedLetterMatches(UInt8(truncatingIfNeeded: v), c)
            case 2: return v == c
            default: return c != 0x0A
            }
        }

        mutating func matchAt(_ pos: Int) -> Bool { enterGroup(0, pos) }

        mutating func enterGroup(_ g: Int, _ pos: Int) -> Bool {
            starts[g] = pos
            var br = m.groupFirstBranch[g]
            let end = m.groupEndBranch[g]
            while br < end {
                if matchSeq(g, br, m.branchStart[br], pos) { return true }
                br += 1
            }
            return false
        }

        mutating func closeGroup(_ g: Int, _ pos: Int) -> Bool {
            if g + 1 == m.nGroups {
                for i in 0..<m.nGroups - 1 { caps[i] = starts[i]..<starts[i + 1] }
                caps[g] = starts[g]..<pos
                return true
            }
            return enterGroup(g + 1, pos)
        }

        mutating func matchSeq(_ g: Int, _ br: Int, _ k: Int, _ pos: Int) -> Bool {
            if k == m.branchEnd[br] { return closeGroup(g, pos) }
            let lo = m.itemMin[k], hi = m.itemMax[k]
            if lo == 1 && hi == 1 {
                guard pos < n else { return false }
                let (c, w) = decode(pos)
                return matches(k, c) && matchSeq(g, br, k + 1, pos + w)
            }
            // Greedy: take as many as possible, then give back one code point at a time.
            var p = pos, count = 0
            while count < hi && p < n {
                let (c, w) = decode(p)
                if !matches(k, c) { break }
                p += w; count += 1
            }
            if count < lo { return false }
            let follow = k &* 256
            let row = k &* (n &+ 1)
            while true {
                if p >= n || m.canFollow[follow &+ Int(b[p])] {
                    let bit = row &+ p
                    if failed[bit >> 6] & (1 << UInt64(bit & 63)) == 0 {
                        if matchSeq(g, br, k + 1, p) { return true }
                        failed[bit >> 6] |= 1 << UInt64(bit & 63)
                    }
                }
                if count == lo { return false }
                repeat { p -= 1 } while b[p] & 0xC0 == 0x80
                count -= 1
            }
        }
    }
}

/// Python `re.IGNORECASE` on an ASCII letter `l` (lowercase): the letter in either case, plus
/// the non-ASCII code points CPython folds onto it (İ U+0130 and ı U+0131 onto i, K U+212A onto
/// k, ſ U+017F onto s).
@inline(__always)
func foldedLetterMatches(_ l: UInt8, _ c: UInt32) -> Bool {
    if c < 0x80 { return (c | 0x20) == UInt32(l) && c >= 0x41 }
    switch l {
    case 0x69: return c == 0x130 || c == 0x131
    case 0x6B: return c == 0x212A
    case 0x73: return c == 0x17F
    default: return false
    }
}
