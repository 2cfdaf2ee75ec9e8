import Foundation
import LecternCore

/// The model a run adapts: a Hugging Face folder (`config.json` and `*.safetensors`) or a GGUF file
/// that transformers can read, converted once into a cached safetensors folder (the GGUF as loaded
/// can be neither trained nor saved; DESIGN.md section 7).
public struct BaseModel: Sendable {
    /// The path as given (what the run records).
    public let given: String
    /// The folder the engine trains on.
    public let folder: String
    /// The GGUF it was converted from, if any.
    public let gguf: String?
    /// SHA-256 over `config.json` and the weights: the base's identity in the run's fingerprint.
    public let fingerprint: String
    /// Where the base's tokenizer is read from for the check against the set's.
    public var tokenizerSource: String { gguf ?? folder }

    /// The (in, out) features of the linear layers of a LLaMA-family decoder, by module name, from
    /// `config.json`: enough to refuse a LoRA rank larger than a layer before anything is written
    /// (the engine checks every layer again). Empty when the config does not say.
    public func linearShapes() -> [String: (inFeatures: Int, outFeatures: Int)] {
        guard let data = FileManager.default.contents(atPath: folder + "/config.json"),
              let c = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let hidden = (c["hidden_size"] as? NSNumber)?.intValue, hidden > 0,
              let heads = (c["num_attention_heads"] as? NSNumber)?.intValue, heads > 0 else { return [:] }
        let kv = (c["num_key_value_heads"] as? NSNumber)?.intValue ?? heads
        let headDim = (c["head_dim"] as? NSNumber)?.intValue ?? hidden / heads
        var shapes: [String: (Int, Int)] = [
            "q_proj": (hidden, heads * headDim), "k_proj": (hidden, kv * headDim), "v_proj": (hidden, kv * headDim),
            "o_proj": (heads * headDim, hidden),
        ]
        if let inter = (c["intermediate_size"] as? NSNumber)?.intValue, inter > 0 {
            shapes["gate_proj"] = (hidden, inter)
            shapes["up_proj"] = (hidden, inter)
            shapes["down_proj"] = (inter, hidden)
        }
        return shapes
    }

    /// Resolves and checks `path` before anything is written: a missing path, a folder without a
    /// `config.json` or weights, or a file that is not GGUF fails here.
    public static func resolve(_ path: String, engine: TrainingEngine, cache: String) throws -> BaseModel {
        let fm = FileManager.default
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            throw TrainError.badBase("\(path): no such file or directory (a Hugging Face model folder or a .gguf file)")
        }
        if isDirectory.boolValue {
            return try folder(absolute, given: path, gguf: nil)
        }
        guard let handle = FileHandle(forReadingAtPath: absolute) else { throw TrainError.badBase("\(path): cannot read the file") }
        let magic = handle.readData(ofLength: 4)
        try? handle.close()
        guard magic == Data("GGUF".utf8) else {
            throw TrainError.badBase("\(path): neither a model folder nor a GGUF file (its first bytes are not 'GGUF')")
        }
        let converted = try engine.convertGGUF(absolute, cache: cache)
        return try folder(converted, given: path, gguf: absolute)
    }

    static func folder(_ dir: String, given: String, gguf: String?) throws -> BaseModel {
        let fm = FileManager.default
        guard fm.fileExists(atPath: dir + "/config.json") else {
            throw TrainError.badBase("\(given): no config.json in the folder (a Hugging Face model folder has config.json and *.safetensors)")
        }
        let weights = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !weights.isEmpty else {
            throw TrainError.badBase("\(given): no *.safetensors weights in the folder (convert .bin checkpoints with save_pretrained(safe_serialization=True))")
        }
        var digests = [try FileDigest.sha256Hex(path: dir + "/config.json")]
        for w in weights { digests.append(w + ":" + (try FileDigest.sha256Hex(path: dir + "/" + w))) }
        let fingerprint = Fingerprint.hex(of: Array(digests.joined(separator: "\n").utf8))
        return BaseModel(given: given, folder: dir, gguf: gguf, fingerprint: fingerprint)
    }
}
