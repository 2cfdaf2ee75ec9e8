import Foundation

/// The fields of a Hugging Face BERT `config.json` the encoder uses, plus the
/// sentence-transformers pooling and sequence-length settings.
public struct BertConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var vocabSize: Int
    public var layerNormEps: Float
    public var hiddenAct: String

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case vocabSize = "vocab_size", layerNormEps = "layer_norm_eps", hiddenAct = "hidden_act"
    }

    /// Reads and checks `config.json`.
    public static func load(path: String) throws -> BertConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EmbedError.badModel(path, "cannot read the model configuration")
        }
        let c: BertConfig
        do { c = try JSONDecoder().decode(BertConfig.self, from: data) } catch {
            throw EmbedError.badModel(path, "not a BERT config.json: \(error)")
        }
        guard c.hiddenAct == "gelu" else { throw EmbedError.badModel(path, "hidden_act '\(c.hiddenAct)' is not supported (only exact 'gelu')") }
        guard c.hiddenSize % c.numAttentionHeads == 0, c.hiddenSize % 16 == 0, c.intermediateSize % 16 == 0,
              (c.hiddenSize / c.numAttentionHeads) % 8 == 0 else {
            throw EmbedError.badModel(path, "hidden_size \(c.hiddenSize) / heads \(c.numAttentionHeads) / intermediate \(c.intermediateSize) not supported (need multiples of 16 and a head size multiple of 8)")
        }
        return c
    }
}

/// sentence-transformers' `1_Pooling/config.json`: only mean pooling is implemented.
struct PoolingConfig: Decodable {
    var poolingModeMeanTokens: Bool
    var poolingModeClsToken: Bool?
    var poolingModeMaxTokens: Bool?
    enum CodingKeys: String, CodingKey {
        case poolingModeMeanTokens = "pooling_mode_mean_tokens", poolingModeClsToken = "pooling_mode_cls_token"
        case poolingModeMaxTokens = "pooling_mode_max_tokens"
    }

    static func check(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path),
              let p = try? JSONDecoder().decode(PoolingConfig.self, from: data) else {
            throw EmbedError.badModel(path, "cannot read the pooling configuration")
        }
        guard p.poolingModeMeanTokens, p.poolingModeClsToken != true, p.poolingModeMaxTokens != true else {
            throw EmbedError.badModel(path, "only mean pooling is supported")
        }
    }
}
