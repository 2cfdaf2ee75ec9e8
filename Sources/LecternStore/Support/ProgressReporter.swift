import Foundation

/// Progress of long work on standard error: a redrawn bar with rate and ETA on a terminal,
/// and a plain line every few seconds otherwise (logs, CI), so both people and log readers see
/// that a stage is alive and how long it has left.
///
/// Thread-safe: workers on both cores may call ``advance(by:)``. `LECTERN_PROGRESS=off` silences
/// it; `LECTERN_PROGRESS=plain` forces plain lines; `LECTERN_PROGRESS_INTERVAL` sets their period
/// in seconds (default 10).
public final class ProgressReporter: @unchecked Sendable {
    public let label: String
    public let unit: String
    public private(set) var total: Int?
    private var done = 0
    private let start = DispatchTime.now().uptimeNanoseconds
    private var lastDraw: UInt64 = 0
    private let lock = NSLock()
    private let mode: Mode
    private let interval: UInt64
    private var finished = false

    enum Mode { case off, bar, plain }

    public init(label: String, total: Int?, unit: String = "items") {
        self.label = label
        self.total = total
        self.unit = unit
        let env = ProcessInfo.processInfo.environment
        switch env["LECTERN_PROGRESS"] {
        case "off": mode = .off
        case "plain": mode = .plain
        default: mode = isatty(2) != 0 ? .bar : .plain
        }
        let seconds = Double(env["LECTERN_PROGRESS_INTERVAL"] ?? "") ?? 10
        interval = UInt64(max(0.05, seconds) * 1e9)
        lastDraw = start
    }

    /// Changes the expected total (e.g. once a source has been scanned).
    public func setTotal(_ total: Int?) {
        lock.lock(); self.total = total; lock.unlock()
    }

    /// Records `n` more units done.
    public func advance(by n: Int = 1) {
        lock.lock(); defer { lock.unlock() }
        done += n
        let now = DispatchTime.now().uptimeNanoseconds
        let period: UInt64 = mode == .bar ? 100_000_000 : interval
        if now - lastDraw >= period {
            lastDraw = now
            draw(now: now, final: false)
        }
    }

    /// Prints the final state (once). `failed`: the work stopped on an error, so the line
    /// says "(failed)" instead of "(done)".
    public func finish(failed: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        draw(now: DispatchTime.now().uptimeNanoseconds, final: true, failed: failed)
    }

    private func draw(now: UInt64, final: Bool, failed: Bool = false) {
        guard mode != .off else { return }
        let elapsed = Double(now - start) / 1e9
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var line = "\(label): \(done)"
        var bar = ""
        if let total, total > 0 {
            line += "/\(total) \(unit)"
            let fraction = min(1, Double(done) / Double(total))
            line += String(format: " (%.0f%%)", fraction * 100)
            let width = 24
            let filled = Int(fraction * Double(width))
            bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            if !final, rate > 0 {
                line += ", ETA " + Self.duration(Double(total - done) / rate)
            }
        } else {
            line += " \(unit)"
        }
        line += Self.rate(done: done, elapsed: elapsed, unit: unit)
        if final { line += ", " + Self.duration(elapsed) }
        let text: String
        if mode == .bar {
            text = "\r\u{1B}[2K" + bar + line + (final ? (failed ? " (failed)\n" : "\n") : "")
        } else {
            text = "[\(label)] " + line + (final ? (failed ? " (failed)" : " (done)") : "") + "\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// ", 12.3 items/s", or for slow work (a training step of 30 s) ", 30.1 s/step", which says
    /// more than "0.0 steps/s".
    static func rate(done: Int, elapsed: Double, unit: String) -> String {
        guard done > 0, elapsed > 0 else { return "" }
        let rate = Double(done) / elapsed
        if rate >= 1 { return String(format: ", %.1f %@/s", rate, unit) }
        let one = unit.hasSuffix("s") ? String(unit.dropLast()) : unit
        return String(format: ", %.1f s/%@", elapsed / Double(done), one)
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) }
        if s >= 60 { return String(format: "%d:%02d", s / 60, s % 60) }
        return seconds < 10 ? String(format: "%.1fs", seconds) : "\(s)s"
    }
}
