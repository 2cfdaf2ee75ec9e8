import Dispatch
import Foundation

/// A BERT encoder (all-MiniLM-L6-v2 and its relatives) in Swift: token, position and type
/// embeddings, `N` post-LayerNorm transformer layers, mean pooling over the real tokens and L2
/// normalisation, exactly the sentence-transformers pipeline of that model.
///
/// A batch is packed without padding: the rows of all sequences are stacked for the linear
/// layers, and attention runs per sequence over its own tokens only. That is what an attention
/// mask computes (masked keys get weight exactly 0), without the wasted work on pads.
public final class BertEncoder: @unchecked Sendable {
    public let config: BertConfig
    let wordEmb: [Float], posEmb: [Float], typeEmb: [Float]
    let embLN: (gamma: [Float], beta: [Float])
    struct Layer {
        let qkv: PackedLinear, out: PackedLinear, up: PackedLinear, down: PackedLinear
        let ln1: (gamma: [Float], beta: [Float]), ln2: (gamma: [Float], beta: [Float])
    }
    let layers: [Layer]
    /// Arithmetic of the linear layers.
    public let precision: Precision
    /// The GEMM kernel the linear layers run on.
    public let kernel: GemmKernel

    /// Loads `config.json` and `model.safetensors` from the model folder `dir`. `precision`
    /// bf16 throws ``EmbedError/unsupportedCPU(_:)`` on a CPU without AVX512_BF16.
    /// `kernel` overrides the choice (tests run the portable kernel on AVX-512 machines too).
    public init(modelDirectory dir: String, precision: Precision = .fp32, kernel: GemmKernel? = nil) throws {
        self.precision = precision
        let kernel = try kernel ?? GemmKernel.kernel(for: precision)
        self.kernel = kernel
        let config = try BertConfig.load(path: dir + "/config.json")
        self.config = config
        let st = try SafeTensors(path: dir + "/model.safetensors")
        let h = config.hiddenSize, f = config.intermediateSize
        // Some exports prefix every name with "bert."; accept both.
        let prefix = st.entries["embeddings.word_embeddings.weight"] != nil ? "" : "bert."
        func t(_ n: String, _ s: [Int]) throws -> [Float] { try st.floats(prefix + n, shape: s) }
        wordEmb = try t("embeddings.word_embeddings.weight", [config.vocabSize, h])
        posEmb = try t("embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, h])
        typeEmb = try t("embeddings.token_type_embeddings.weight", [config.typeVocabSize, h])
        embLN = (try t("embeddings.LayerNorm.weight", [h]), try t("embeddings.LayerNorm.bias", [h]))
        var layers: [Layer] = []
        for i in 0..<config.numHiddenLayers {
            let p = "encoder.layer.\(i)."
            let q = try t(p + "attention.self.query.weight", [h, h]), k = try t(p + "attention.self.key.weight", [h, h])
            let v = try t(p + "attention.self.value.weight", [h, h])
            let qb = try t(p + "attention.self.query.bias", [h]), kb = try t(p + "attention.self.key.bias", [h])
            let vb = try t(p + "attention.self.value.bias", [h])
            layers.append(Layer(
                qkv: try PackedLinear(weight: q + k + v, bias: qb + kb + vb, outFeatures: 3 * h, inFeatures: h, name: st.path, kernel: kernel),
                out: try PackedLinear(weight: try t(p + "attention.output.dense.weight", [h, h]),
                                      bias: try t(p + "attention.output.dense.bias", [h]), outFeatures: h, inFeatures: h, name: st.path, kernel: kernel),
                up: try PackedLinear(weight: try t(p + "intermediate.dense.weight", [f, h]),
                                     bias: try t(p + "intermediate.dense.bias", [f]), outFeatures: f, inFeatures: h, name: st.path, kernel: kernel),
                down: try PackedLinear(weight: try t(p + "output.dense.weight", [h, f]),
                                       bias: try t(p + "output.dense.bias", [h]), outFeatures: h, inFeatures: f, name: st.path, kernel: kernel),
                ln1: (try t(p + "attention.output.LayerNorm.weight", [h]), try t(p + "attention.output.LayerNorm.bias", [h])),
                ln2: (try t(p + "output.LayerNorm.weight", [h]), try t(p + "output.LayerNorm.bias", [h]))))
        }
        self.layers = layers
    }

    /// Multiply-adds x2 of one forward pass over a sequence of `n` tokens (the FLOP floor:
    /// what any exact implementation must compute; pads excluded).
    public func flops(tokens n: Int) -> Double {
        let h = Double(config.hiddenSize), f = Double(config.intermediateSize), n = Double(n)
        let linear = 2 * n * (3 * h * h + h * h + 2 * h * f)
        let attention = 2 * 2 * n * n * h
        return Double(config.numHiddenLayers) * (linear + attention)
    }

    /// Mean-pooled, L2-normalised embeddings of token-id sequences (each with its [CLS]/[SEP],
    /// each at most `maxPositionEmbeddings` long), as one flat `count x hiddenSize` array.
    public func embed(_ sequences: [[Int32]]) throws -> [Float] {
        let h = config.hiddenSize
        var lengths: [Int] = [], starts: [Int] = []
        var m = 0
        for (i, s) in sequences.enumerated() {
            guard !s.isEmpty, s.count <= config.maxPositionEmbeddings else {
                throw EmbedError.invalidArgument("sequence \(i) has \(s.count) tokens; the encoder takes 1...\(config.maxPositionEmbeddings)")
            }
            if let bad = s.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
                throw EmbedError.invalidArgument("sequence \(i) has token id \(bad) outside the vocabulary of \(config.vocabSize)")
            }
            starts.append(m); lengths.append(s.count); m += s.count
        }
        if sequences.isEmpty { return [] }
        let rows = (m + Sgemm.mr - 1) / Sgemm.mr * Sgemm.mr
        let x = AlignedBuffer(count: rows * h), qkv = AlignedBuffer(count: rows * 3 * h)
        let ctx = AlignedBuffer(count: rows * h), tmp = AlignedBuffer(count: rows * h)
        let ffn = AlignedBuffer(count: rows * config.intermediateSize)
        embedTokens(sequences, starts: starts, into: x)
        for layer in layers {
            layer.qkv.apply(x.pointer, rows: rows, into: qkv.pointer)
            Attention.run(qkv: qkv.pointer, starts: starts, lengths: lengths, hidden: h,
                          heads: config.numAttentionHeads, into: ctx.pointer, avx512: kernel != .avx2)
            layer.out.apply(ctx.pointer, rows: rows, into: tmp.pointer)
            RowOps.addLayerNorm(tmp.pointer, residual: x.pointer, rows: m, width: h,
                                gamma: layer.ln1.gamma, beta: layer.ln1.beta, eps: config.layerNormEps)
            layer.up.apply(x.pointer, rows: rows, into: ffn.pointer, gelu: true)
            layer.down.apply(ffn.pointer, rows: rows, into: tmp.pointer)
            RowOps.addLayerNorm(tmp.pointer, residual: x.pointer, rows: m, width: h,
                                gamma: layer.ln2.gamma, beta: layer.ln2.beta, eps: config.layerNormEps)
        }
        return RowOps.meanPoolNormalize(x.pointer, starts: starts, lengths: lengths, width: h)
    }

    private func embedTokens(_ sequences: [[Int32]], starts: [Int], into x: AlignedBuffer) {
        let h = config.hiddenSize
        wordEmb.withUnsafeBufferPointer { w in
            posEmb.withUnsafeBufferPointer { p in
                typeEmb.withUnsafeBufferPointer { t in
                    for (s, seq) in sequences.enumerated() {
                        for (pos, id) in seq.enumerated() {
                            let dst = x.pointer + (starts[s] + pos) * h
                            let wr = Int(id) * h, pr = pos * h
                            for j in 0..<h { dst[j] = w[wr + j] + t[j] + p[pr + j] }
                        }
                    }
                }
            }
        }
        let m = (starts.last ?? 0) + (sequences.last?.count ?? 0)
        RowOps.layerNorm(x.pointer, rows: m, width: h, gamma: embLN.gamma, beta: embLN.beta, eps: config.layerNormEps)
    }
}
