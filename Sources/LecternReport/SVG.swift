import Foundation

/// Charts drawn as inline SVG text: no script, no fonts fetched, the same bytes for the same
/// numbers. Every number a chart shows is also a `<text>` element (class `value`, with the
/// series and label in `data-` attributes), so a reader, a screen reader and the browser test
/// read the chart's values back from the page.
enum SVG {
    static let width = 500.0
    static let height = 240.0
    static let left = 56.0, right = 16.0, top = 22.0, bottom = 46.0
    /// The palette: one hue per series, colour-blind-safe (Okabe-Ito).
    static let colours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]

    /// One bar: a label under it, its value (and optional interval whisker).
    struct Bar {
        var label: String
        var value: Double
        var low: Double? = nil
        var high: Double? = nil
        var colour: Int = 0
        var series: String = ""
    }

    /// Fixed-precision text for a number: integers without decimals, others with `decimals`.
    static func number(_ v: Double, decimals: Int = 2) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "Inf" : "-Inf") }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: "%.\(decimals)f", v)
    }

    /// Attribute-safe and text-safe escaping.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab and newline are not allowed in XML.
                if c.value < 0x20 && c != "\t" && c != "\n" { out += "\u{FFFD}" } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }

    /// Tick values from 0 (or the data's minimum, when negative) to a round maximum at or above `maxValue`.
    static func ticks(min minValue: Double, max maxValue: Double, count: Int = 4) -> [Double] {
        let lo = Swift.min(0, minValue)
        let hi = Swift.max(maxValue, lo + 1e-9)
        let raw = (hi - lo) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2.0, 2.5, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        let start = floor(lo / step) * step
        var out: [Double] = []
        var v = start
        while v < hi + step * 0.999 && out.count < 12 {
            out.append(v)
            v += step
        }
        return out
    }

    static func format(_ v: Double, step: Double) -> String {
        step >= 1 || v == v.rounded() ? number(v) : String(format: step >= 0.1 ? "%.1f" : step >= 0.01 ? "%.2f" : "%.3g", v)
    }

    static func open(id: String, title: String, height h: Double = height) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-chart=\"\(escape(id))\" viewBox=\"0 0 \(number(width)) \(number(h))\" "
            + "width=\"\(number(width))\" height=\"\(number(h))\" role=\"img\" aria-label=\"\(escape(title))\">"
            + "<title>\(escape(title))</title>"
    }

    /// The y axis with grid lines; returns the SVG and the value -> y mapping.
    static func yAxis(ticks: [Double], plotHeight: Double, label: String) -> (svg: String, y: (Double) -> Double) {
        let lo = ticks.first ?? 0, hi = ticks.last ?? 1
        let span = hi - lo == 0 ? 1 : hi - lo
        let y: (Double) -> Double = { v in top + plotHeight * (1 - (v - lo) / span) }
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        var s = ""
        for t in ticks {
            let ty = y(t)
            s += "<line class=\"grid\" x1=\"\(number(left))\" x2=\"\(number(width - right))\" y1=\"\(number(ty, decimals: 1))\" y2=\"\(number(ty, decimals: 1))\"/>"
            s += "<text class=\"tick\" x=\"\(number(left - 6))\" y=\"\(number(ty + 4, decimals: 1))\" text-anchor=\"end\">\(escape(format(t, step: step)))</text>"
        }
        s += "<text class=\"axis\" transform=\"translate(12 \(number(top + plotHeight / 2, decimals: 1))) rotate(-90)\" text-anchor=\"middle\">\(escape(label))</text>"
        return (s, y)
    }

    /// Vertical bars (a histogram when the labels are bin edges), each with its value written
    /// above it and an interval whisker when it has one.
    static func bars(id: String, title: String, bars: [Bar], yLabel: String, xLabel: String, decimals: Int = 0,
                     legend: [String] = []) -> String {
        let h = height
        let plotHeight = h - top - bottom
        let maxValue = bars.map { Swift.max($0.value, $0.high ?? $0.value) }.max() ?? 1
        let minValue = bars.map { Swift.min($0.value, $0.low ?? $0.value) }.min() ?? 0
        let t = ticks(min: minValue, max: maxValue)
        let (axis, y) = yAxis(ticks: t, plotHeight: plotHeight, label: yLabel)
        var s = open(id: id, title: title, height: h) + axis
        let n = Double(Swift.max(bars.count, 1))
        let slot = (width - left - right) / n
        let barWidth = Swift.max(2, slot * 0.72)
        let labelEvery = Swift.max(1, Int((44 / slot).rounded(.up)))
        let zero = y(Swift.max(0, t.first ?? 0))
        for (i, b) in bars.enumerated() {
            let x = left + slot * Double(i) + (slot - barWidth) / 2
            let top = y(b.value)
            let colour = colours[b.colour % colours.count]
            s += "<rect x=\"\(number(x, decimals: 1))\" y=\"\(number(Swift.min(top, zero), decimals: 1))\" width=\"\(number(barWidth, decimals: 1))\" "
                + "height=\"\(number(abs(zero - top), decimals: 1))\" fill=\"\(colour)\"><title>\(escape(b.label)): \(escape(number(b.value, decimals: decimals)))</title></rect>"
            let cx = x + barWidth / 2
            var labelY = top - 4
            if let lo = b.low, let hi = b.high {
                s += "<line class=\"whisker\" x1=\"\(number(cx, decimals: 1))\" x2=\"\(number(cx, decimals: 1))\" y1=\"\(number(y(lo), decimals: 1))\" y2=\"\(number(y(hi), decimals: 1))\"/>"
                s += "<line class=\"whisker\" x1=\"\(number(cx - 4, decimals: 1))\" x2=\"\(number(cx + 4, decimals: 1))\" y1=\"\(number(y(hi), decimals: 1))\" y2=\"\(number(y(hi), decimals: 1))\"/>"
                s += "<line class=\"whisker\" x1=\"\(number(cx - 4, decimals: 1))\" x2=\"\(number(cx + 4, decimals: 1))\" y1=\"\(number(y(lo), decimals: 1))\" y2=\"\(number(y(lo), decimals: 1))\"/>"
                labelY = Swift.min(labelY, y(hi) - 4)
            }
            // Values of thin bars would overlap: small text, shown for every bar all the same.
            let fontClass = barWidth < 22 ? "value small" : "value"
            s += "<text class=\"\(fontClass)\" data-series=\"\(escape(b.series))\" data-label=\"\(escape(b.label))\" x=\"\(number(cx, decimals: 1))\" "
                + "y=\"\(number(labelY, decimals: 1))\" text-anchor=\"middle\">\(escape(number(b.value, decimals: decimals)))</text>"
            if i % labelEvery == 0 {
                s += "<text class=\"tick\" x=\"\(number(cx, decimals: 1))\" y=\"\(number(h - bottom + 14, decimals: 1))\" text-anchor=\"middle\">\(escape(short(b.label)))</text>"
            }
        }
        s += "<line class=\"axisline\" x1=\"\(number(left))\" x2=\"\(number(width - right))\" y1=\"\(number(zero, decimals: 1))\" y2=\"\(number(zero, decimals: 1))\"/>"
        s += "<text class=\"axis\" x=\"\(number(left + (width - left - right) / 2, decimals: 1))\" y=\"\(number(h - 8))\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        s += legendSVG(legend)
        return s + "</svg>"
    }

    static func legendSVG(_ names: [String]) -> String {
        var s = ""
        var x = left + 4
        for (i, name) in names.enumerated() {
            s += "<rect x=\"\(number(x, decimals: 1))\" y=\"6\" width=\"10\" height=\"10\" fill=\"\(colours[i % colours.count])\"/>"
            s += "<text class=\"legend\" x=\"\(number(x + 14, decimals: 1))\" y=\"15\">\(escape(name))</text>"
            x += 24 + Double(name.count) * 6.2
        }
        return s
    }

    static func short(_ s: String) -> String { s.count > 14 ? String(s.prefix(13)) + "…" : s }

    /// Lines over a shared x axis (steps), one per series, each ending in its last value.
    static func lines(id: String, title: String, series: [(name: String, points: [(x: Double, y: Double)])],
                      xLabel: String, yLabel: String, decimals: Int = 4) -> String {
        let h = height
        let plotHeight = h - top - bottom
        let all = series.flatMap(\.points)
        let maxY = all.map(\.y).max() ?? 1, minY = all.map(\.y).min() ?? 0
        let t = ticks(min: Swift.min(0, minY), max: maxY)
        let (axis, y) = yAxis(ticks: t, plotHeight: plotHeight, label: yLabel)
        let minX = all.map(\.x).min() ?? 0, maxX = all.map(\.x).max() ?? 1
        let xSpan = maxX - minX == 0 ? 1 : maxX - minX
        let plotWidth = width - left - right - 64
        let x: (Double) -> Double = { v in left + plotWidth * (v - minX) / xSpan }
        var s = open(id: id, title: title, height: h) + axis
        let integral = all.allSatisfy { $0.x == $0.x.rounded() }
        for xt in ticks(min: minX, max: maxX) where xt >= minX && xt <= maxX && (!integral || xt == xt.rounded()) {
            s += "<text class=\"tick\" x=\"\(number(x(xt), decimals: 1))\" y=\"\(number(h - bottom + 14, decimals: 1))\" text-anchor=\"middle\">\(escape(number(xt)))</text>"
        }
        for (i, line) in series.enumerated() where !line.points.isEmpty {
            let colour = colours[i % colours.count]
            let pts = line.points.map { "\(number(x($0.x), decimals: 1)),\(number(y($0.y), decimals: 1))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(pts)\"/>"
            for p in line.points where line.points.count <= 60 {
                s += "<circle cx=\"\(number(x(p.x), decimals: 1))\" cy=\"\(number(y(p.y), decimals: 1))\" r=\"2.5\" fill=\"\(colour)\">"
                    + "<title>\(escape(line.name)) step \(number(p.x)): \(escape(number(p.y, decimals: decimals)))</title></circle>"
            }
            if let last = line.points.last {
                s += "<text class=\"value\" data-series=\"\(escape(line.name))\" data-label=\"\(escape(number(last.x)))\" x=\"\(number(x(last.x) + 6, decimals: 1))\" "
                    + "y=\"\(number(y(last.y) + 4, decimals: 1))\" text-anchor=\"start\">\(escape(number(last.y, decimals: decimals)))</text>"
            }
        }
        s += "<text class=\"axis\" x=\"\(number(left + plotWidth / 2, decimals: 1))\" y=\"\(number(h - 8))\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        if series.count > 1 { s += legendSVG(series.map(\.name)) }
        return s + "</svg>"
    }
}
