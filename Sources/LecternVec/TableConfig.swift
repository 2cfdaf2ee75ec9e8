/// The type of a metadata column (`genre text`): stored beside the vector's rowid, checked on
/// write, and filtered inside a KNN scan (`... AND k = 10 AND genre = 'x'`).
enum MetadataType: String {
    case boolean, integer, float, text

    /// sqlite-vec's spellings of each type.
    init?(declared t: String) {
        switch t {
        case "boolean", "bool": self = .boolean
        case "int", "integer", "int64", "integer64": self = .integer
        case "float", "double", "float64", "f64": self = .float
        case "text": self = .text
        default: return nil
        }
    }
}

/// The type of an auxiliary column (`+title text`): stored and returned, never filtered in a scan.
enum AuxiliaryType: String {
    case text, integer, float, blob, any

    init?(declared t: String) {
        switch t {
        case "text": self = .text
        case "int", "integer": self = .integer
        case "float", "double": self = .float
        case "blob": self = .blob
        case "any": self = .any
        default: return nil
        }
    }
}

/// What one declared column is.
enum ColumnKind: Equatable {
    case vector, partition, metadata(MetadataType), auxiliary(AuxiliaryType)
}

/// A column as declared, in declaration order (the order `SELECT *` shows, as in sqlite-vec).
struct UserColumn {
    let name: String
    let kind: ColumnKind
    /// Its column in the shadow table that stores it (`m0`.. in `<t>_rowids`, `a0`.. in `<t>_auxiliary`).
    var storage: String = ""
}

/// One vector column's declaration.
struct VectorSpec {
    let name: String
    let type: ElementType
    let dims: Int
    let metric: Metric
    var bytes: Int { type.byteCount(dims: dims) }
}

/// The parsed arguments of `CREATE VIRTUAL TABLE t USING lectern_vec(...)`.
struct TableConfig {
    /// The user's columns in declaration order (the rowid or primary key column is not among them).
    var columns: [UserColumn] = []
    /// The name of the visible rowid column: `rowid`, or the `name integer primary key` column.
    var rowidName = "rowid"
    /// `name text primary key`: column 0 holds a text id, unique, mapped to an internal rowid.
    var textPrimaryKey = false
    var vectorColumn = ""
    var type = ElementType.float32
    var dims = 0
    var metric = Metric.l2
    /// Partition key columns in declaration order (at most 4, as sqlite-vec): each distinct
    /// combination of their values is a chain of chunks; a KNN query with `=` on all of them
    /// reads that chain only.
    var partitionKeys: [String] = []
    /// "integer", "text" or "any": what each partition key accepts.
    var partitionTypes: [String] = []
    var partitionColumn: String? { partitionKeys.first }
    static let maxPartitionKeys = 4
    /// Slots per storage chunk as declared (`chunk_size=`); a table records the size it was made
    /// with in `<t>_info`, which wins on later connections (see VecTable.chunkSize).
    var chunkSize = 1024
    /// Whether `chunk_size=` was given. Without it an IVF table gets 128-slot chunks (one chain
    /// per list and partition, so big chunks would be mostly empty) and any other table 1024.
    var chunkSizeGiven = false
    var defaultChunkSize: Int { chunkSizeGiven ? chunkSize : ivf ? 128 : chunkSize }
    var ivf = false
    var nlist = 128
    var nprobe = 8
    var cacheMB = 2048

    var vectorBytes: Int { type.byteCount(dims: dims) }
    var metadata: [UserColumn] { columns.filter { if case .metadata = $0.kind { return true } else { return false } } }
    var auxiliary: [UserColumn] { columns.filter { if case .auxiliary = $0.kind { return true } else { return false } } }

    /// Every vector column in declaration order; the first is `vectorColumn`/`type`/`dims`/`metric`
    /// (the one an IVF index may cover), the others are scanned exactly.
    var vectors: [VectorSpec] = []

    /// As sqlite-vec 0.1.6.
    static let maxVectorColumns = 16
    static let maxMetadataColumns = 16
    static let maxAuxiliaryColumns = 16

    static let usage = """
        expected e.g. lectern_vec(embedding float[384] distance_metric=cosine [indexed by ivf(nlist=1024, nprobe=16)], \
        model integer partition key, genre text, +title text, chunk_size=1024)
        """

    init(args: [String]) throws {
        for raw in args {
            let arg = raw.trimmed()
            let lower = arg.lowercased()
            if let eq = lower.firstIndex(of: "="), !lower.contains(" "), !lower.contains("[") {
                let key = String(lower[..<eq]), value = String(arg[arg.index(after: eq)...]).trimmed()
                switch key {
                case "chunk_size":
                    guard let n = Int(value), n >= 8, n <= 65536, n % 8 == 0 else {
                        throw VecError("lectern_vec: chunk_size must be a multiple of 8 between 8 and 65536, got '\(value)'")
                    }
                    chunkSize = n
                    chunkSizeGiven = true
                case "cache_mb":
                    guard let n = Int(value), n >= 0 else { throw VecError("lectern_vec: cache_mb must be >= 0, got '\(value)'") }
                    cacheMB = min(n, Int.max >> 21)   // bytes = cacheMB << 20 must not wrap
                default:
                    throw VecError("lectern_vec: unknown option '\(key)'; \(TableConfig.usage)")
                }
                continue
            }
            var words = arg.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
            // `+name type`: an auxiliary column (the `+` may stand apart from the name).
            var auxiliary = false
            if let f = words.first, f.hasPrefix("+") {
                auxiliary = true
                if f == "+" { words.removeFirst() } else { words[0] = String(f.dropFirst()) }
            }
            guard let name = words.first, words.count >= (auxiliary ? 1 : 2) else {
                throw VecError("lectern_vec: cannot parse column '\(arg)'; \(TableConfig.usage)")
            }
            guard name.isIdentifier else { throw VecError("lectern_vec: invalid column name '\(name)'") }
            let lowerName = name.lowercased()
            guard !["rowid", "_rowid_", "oid", "distance", "k", "nprobe"].contains(lowerName) else {
                throw VecError("lectern_vec: '\(name)' cannot be a column name (rowid, distance, k and nprobe are the table's own)")
            }
            guard !columns.contains(where: { $0.name.lowercased() == lowerName }), rowidName.lowercased() != lowerName else {
                throw VecError("lectern_vec: column '\(name)' is declared twice")
            }
            let lw = words.map { $0.lowercased() }
            if auxiliary {
                let declared = lw.count >= 2 ? lw[1] : "any"
                guard lw.count <= 2, let t = AuxiliaryType(declared: declared) else {
                    throw VecError("lectern_vec: auxiliary column '+\(name)' has an unknown type '\(lw.dropFirst().joined(separator: " "))'; text, integer, float, blob or any")
                }
                guard self.auxiliary.count < TableConfig.maxAuxiliaryColumns else {
                    throw VecError("lectern_vec: more than \(TableConfig.maxAuxiliaryColumns) auxiliary columns")
                }
                columns.append(UserColumn(name: name, kind: .auxiliary(t), storage: "a\(self.auxiliary.count)"))
                continue
            }
            if lw.count >= 3, lw[lw.count - 2] == "partition", lw[lw.count - 1] == "key", lw.count <= 4 {
                guard partitionKeys.count < TableConfig.maxPartitionKeys else {
                    throw VecError("lectern_vec: more than \(TableConfig.maxPartitionKeys) partition key columns ('\(name)' after \(partitionKeys.joined(separator: ", ")))")
                }
                let t = lw.count == 4 ? lw[1] : "any"
                partitionKeys.append(name)
                partitionTypes.append(t.hasPrefix("int") ? "integer" : (t == "text" ? "text" : "any"))
                columns.append(UserColumn(name: name, kind: .partition, storage: "k\(partitionKeys.count - 1)"))
                continue
            }
            if lw.count >= 3, lw[lw.count - 2] == "primary", lw[lw.count - 1] == "key" {
                guard lw.count == 4, ["int", "integer", "text"].contains(lw[1]) else {
                    throw VecError("lectern_vec: a primary key is INTEGER or TEXT ('\(arg)')")
                }
                guard rowidName == "rowid" else {
                    throw VecError("lectern_vec: only one primary key column is allowed")
                }
                rowidName = name
                textPrimaryKey = lw[1] == "text"
                continue
            }
            if lw.count == 2, !lw[1].contains("[") {
                guard let t = MetadataType(declared: lw[1]) else {
                    throw VecError("lectern_vec: column '\(name)' has an unknown type '\(words[1])'; a metadata column is boolean, integer, float or text, a vector column float[N], int8[N] or bit[N]")
                }
                guard metadata.count < TableConfig.maxMetadataColumns else {
                    throw VecError("lectern_vec: more than \(TableConfig.maxMetadataColumns) metadata columns")
                }
                columns.append(UserColumn(name: name, kind: .metadata(t), storage: "m\(metadata.count)"))
                continue
            }
            // A vector column: name type[N] options... (parsed into type/dims/metric, then kept in `vectors`)
            guard vectors.count < TableConfig.maxVectorColumns else {
                throw VecError("lectern_vec: more than \(TableConfig.maxVectorColumns) vector columns")
            }
            let ivfBefore = ivf
            (type, dims, metric) = (.float32, 0, .l2)
            columns.append(UserColumn(name: name, kind: .vector, storage: vectors.isEmpty ? "vectors" : "vectors\(vectors.count)"))
            try parseVectorType(lw[1])
            var rest = Array(lw.dropFirst(2))
            var explicitMetric = false
            while let w = rest.first {
                if w.hasPrefix("distance_metric=") {
                    let m = String(w.dropFirst("distance_metric=".count))
                    guard let metric = Metric(rawValue: m) else {
                        throw VecError("lectern_vec: unknown distance_metric '\(m)'; one of l2, cosine, l1, dot, hamming")
                    }
                    self.metric = metric
                    explicitMetric = true
                    rest.removeFirst()
                } else if w == "indexed", rest.count >= 3, rest[1] == "by" {
                    let spec = rest[2...].joined(separator: " ")
                    try parseIVF(spec)
                    rest = []
                } else {
                    throw VecError("lectern_vec: unexpected '\(w)' in column '\(arg)'; \(TableConfig.usage)")
                }
            }
            if type == .bit {
                if explicitMetric && metric != .hamming { throw VecError("lectern_vec: bit vectors support only distance_metric=hamming") }
                metric = .hamming
            } else if metric == .hamming {
                throw VecError("lectern_vec: distance_metric=hamming needs a bit[N] column")
            }
            if ivf && !ivfBefore && !vectors.isEmpty {
                throw VecError("lectern_vec: only the first vector column can have an IVF index ('\(name)' is not the first)")
            }
            vectors.append(VectorSpec(name: name, type: type, dims: dims, metric: metric))
        }
        guard let first = vectors.first else { throw VecError("lectern_vec: no vector column; \(TableConfig.usage)") }
        (vectorColumn, type, dims, metric) = (first.name, first.type, first.dims, first.metric)
        if ivf && type != .float32 { throw VecError("lectern_vec: the IVF index supports float[N] columns only") }
    }

    private mutating func parseVectorType(_ t: String) throws {
        guard let open = t.firstIndex(of: "["), t.hasSuffix("]") else {
            throw VecError("lectern_vec: vector column type must be float[N], int8[N] or bit[N], got '\(t)'")
        }
        let base = String(t[..<open])
        let n = String(t[t.index(after: open)..<t.index(before: t.endIndex)])
        switch base {
        case "float", "float32", "f32": type = .float32
        case "int8", "i8": type = .int8
        case "bit": type = .bit
        default: throw VecError("lectern_vec: unknown vector element type '\(base)'; float, int8 or bit")
        }
        guard let d = Int(n), d > 0, d <= 65536 else {
            throw VecError("lectern_vec: vector dimension must be between 1 and 65536, got '\(n)'")
        }
        if type == .bit && d % 8 != 0 { throw VecError("lectern_vec: bit vector dimension must be divisible by 8, got \(d)") }
        dims = d
    }

    private mutating func parseIVF(_ spec: String) throws {
        let s = spec.replacingAll(" ", with: "")
        guard s.hasPrefix("ivf("), s.hasSuffix(")") else {
            throw VecError("lectern_vec: unknown index '\(spec)'; expected ivf(nlist=N, nprobe=M)")
        }
        ivf = true
        let body = s.dropFirst(4).dropLast()
        var nprobeGiven = false
        for kv in body.split(separator: ",") where !kv.isEmpty {
            let parts = kv.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let v = Int(parts[1]) else { throw VecError("lectern_vec: bad ivf option '\(kv)'") }
            switch parts[0] {
            case "nlist":
                guard v >= 1, v <= 65536 else { throw VecError("lectern_vec: ivf nlist must be between 1 and 65536, got \(v)") }
                nlist = v
            case "nprobe":
                guard v >= 1 else { throw VecError("lectern_vec: ivf nprobe must be >= 1, got \(v)") }
                nprobe = v
                nprobeGiven = true
            default: throw VecError("lectern_vec: unknown ivf option '\(parts[0])'; nlist or nprobe")
            }
        }
        // The default nprobe (8) follows a small nlist down; a given one must fit.
        if !nprobeGiven { nprobe = min(nprobe, nlist) }
        if nprobe > nlist { throw VecError("lectern_vec: ivf nprobe (\(nprobe)) cannot exceed nlist (\(nlist))") }
    }
}

extension String {
    func trimmed() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s.removeLast() }
        return String(s)
    }

    var isIdentifier: Bool {
        guard let f = unicodeScalars.first, f == "_" || (f.properties.isAlphabetic) else { return false }
        return unicodeScalars.allSatisfy { $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
    }
}
