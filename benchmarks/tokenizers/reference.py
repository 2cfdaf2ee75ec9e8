#!/usr/bin/env python3
"""Reference token ids from Hugging Face `tokenizers` (Rust), for LecternText's tests and benchmark.

  reference.py ids   --tokenizer-json T.json | --gguf M.gguf   --input texts.json --output ids.json
  reference.py train-bytefallback --input texts.json --output tokenizer.json [--vocab-size N]
  reference.py export  --gguf M.gguf [--pre NAME] --input texts.json --output tokenizer.json
  reference.py spm-gguf --tokenizer-json T.json --input texts.json --output M.gguf   (LLaMA-style GGUF)
  reference.py ids   --hf-gguf M.gguf ...   (transformers' GGUF tokenizer loader)
  reference.py bench --tokenizer-json T.json | --gguf M.gguf   --input texts.json [--repeat R]

texts.json is a JSON list of strings; ids.json is a JSON list of id lists (special tokens added
as the tokenizer's post-processor says). GGUF tokenizers are rebuilt as a `tokenizers` BPE from
the file's vocab, merges and token types, with the pre-tokenizer its `tokenizer.ggml.pre` names
(llama.cpp's table), so the reference is independent of Lectern's GGUF reader.
"""
import argparse, json, os, sys, time


def gguf_tokenizer(path, pre_override=None):
    import gguf
    from tokenizers import Tokenizer, AddedToken, models, pre_tokenizers, decoders, Regex
    r = gguf.GGUFReader(path)
    f = r.fields
    def strings(key):
        fld = f[key]
        return [bytes(fld.parts[i]).decode("utf-8") for i in fld.data]
    def scalar(key, default=None):
        if key not in f:
            return default
        v = f[key].contents()
        return v
    model = scalar("tokenizer.ggml.model")
    pre = pre_override or scalar("tokenizer.ggml.pre", "default")
    tokens = strings("tokenizer.ggml.tokens")
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    if model != "gpt2":
        sys.exit(f"{path}: reference supports tokenizer.ggml.model=gpt2 only, not {model}")
    merges = [tuple(m.split(" ", 1)) for m in strings("tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    gpt2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
    llama3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if pre in ("smollm",):
        # llama.cpp: regex_exprs = { "\\p{N}", gpt2 } == HF Digits(individual) + ByteLevel(regex).
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    elif pre in ("gpt-2", "gpt2", "default"):
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    elif pre in ("llama3", "llama-bpe"):
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(llama3), behavior="isolated"), bl])
    else:
        sys.exit(f"{path}: reference does not know tokenizer.ggml.pre={pre}")
    tok.decoder = decoders.ByteLevel()
    specials = [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty in (3, 4)]
    tok.add_special_tokens(specials)
    return tok


def spm_gguf(tokenizer_json, out):
    """A `tokenizer.ggml.model = llama` GGUF from a SentencePiece-style tokenizer.json: tokens,
    scores (-id: later merges rank lower, as SentencePiece BPE pieces do), token types."""
    import gguf, numpy as np
    t = json.load(open(tokenizer_json, encoding="utf-8"))
    vocab = t["model"]["vocab"]
    n = max(vocab.values()) + 1
    tokens = [""] * n
    for k, v in vocab.items():
        tokens[v] = k
    added = {a["id"] for a in t["added_tokens"]}
    types = [6 if (s.startswith("<0x") and len(s) == 6) else 2 if s == "<unk>" else 3 if i in added else 1
             for i, s in enumerate(tokens)]
    w = gguf.GGUFWriter(out, "llama")
    w.add_context_length(2048); w.add_embedding_length(8); w.add_block_count(1); w.add_feed_forward_length(8)
    w.add_head_count(1); w.add_head_count_kv(1); w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama"); w.add_token_list(tokens); w.add_token_scores([float(-i) for i in range(n)])
    w.add_token_types(types); w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0)
    w.add_add_bos_token(True); w.add_add_eos_token(False); w.add_add_space_prefix(True)
    w.add_tensor("token_embd.weight", np.zeros((n, 8), dtype=np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()


def load(args):
    from tokenizers import Tokenizer
    if args.hf_gguf:
        import logging, os, tempfile
        logging.disable(logging.WARNING)
        from transformers import AutoTokenizer
        # A folder holding only the GGUF: transformers would prefer a tokenizer.json beside it.
        d = tempfile.mkdtemp()
        os.symlink(os.path.abspath(args.hf_gguf), os.path.join(d, "model.gguf"))
        tok = AutoTokenizer.from_pretrained(d, gguf_file="model.gguf").backend_tokenizer
    elif args.tokenizer_json:
        tok = Tokenizer.from_file(args.tokenizer_json)
    else:
        tok = gguf_tokenizer(args.gguf, args.pre)
    tok.no_truncation()
    tok.no_padding()
    return tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["ids", "train-bytefallback", "export", "spm-gguf", "bench"])
    ap.add_argument("--hf-gguf", help="load the GGUF's tokenizer with transformers")
    ap.add_argument("--pre", help="override tokenizer.ggml.pre (e.g. llama3, gpt-2)")
    ap.add_argument("--tokenizer-json")
    ap.add_argument("--gguf")
    ap.add_argument("--input", required=True)
    ap.add_argument("--output")
    ap.add_argument("--vocab-size", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-special", action="store_true")
    args = ap.parse_args()
    texts = json.load(open(args.input, encoding="utf-8"))
    if args.mode == "train-bytefallback":
        # A LLaMA-2-style tokenizer: Prepend/Replace metaspace normalizer, no pre-tokenizer,
        # char-level BPE with <0xNN> byte fallback (as `tokenizers`' LLaMA conversion builds it).
        from tokenizers import Tokenizer, models, normalizers, decoders, trainers, AddedToken
        tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                         decoders.Fuse(), decoders.Strip(" ", 1, 0)])
        byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
        trainer = trainers.BpeTrainer(vocab_size=args.vocab_size, special_tokens=["<unk>", "<s>", "</s>"] + byte_tokens,
                                      limit_alphabet=200, show_progress=False)
        tok.train_from_iterator(texts, trainer)
        tok.save(args.output)
        return
    if args.mode == "spm-gguf":
        spm_gguf(args.tokenizer_json, args.output)
        return
    tok = load(args)
    if args.mode == "export":
        tok.save(args.output)
        return
    if args.mode == "ids":
        enc = tok.encode_batch(texts, add_special_tokens=not args.no_special)
        json.dump([e.ids for e in enc], open(args.output, "w"))
        return
    # bench: single-threaded (RAYON_NUM_THREADS=1), best of --repeat over a per-text encode loop
    # and encode_batch, whichever is faster, tokens per second.
    best, n = None, 0
    for batch in (False, True):
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            if batch:
                n = sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
            else:
                n = sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
    print(json.dumps({"tokens": n, "seconds": best, "tokens_per_second": n / best}))

if __name__ == "__main__":
    main()
