#!/usr/bin/env python3
"""Lectern's training engine: LoRA / full fine-tuning of a causal LM, driven as a child process.

Lectern (Swift) writes a JSON config and a JSONL file of examples (token ids, or chat messages
tokenized here with the base's chat template), runs this script with the
Python recorded as $LECTERN_TRAIN_PYTHON (scripts/setup.d/60-trainer.sh), and reads one JSON
event per line from stdout. The engine never opens Lectern's database. The protocol (config
keys, events, checkpoint layout, probe) is specified in trainer/README.md; keep the two in step.

Subcommands:
  train --config CONFIG.json                    train, printing ready/step/checkpoint/done events
  score --config CONFIG.json                    multiple-choice log-likelihoods (AdaptLLM's and
                                                lm-eval's rules) and greedy generation, as events
  convert-gguf GGUF OUTDIR                      GGUF -> fp32 safetensors folder (cached, atomic)
  probe --base DIR [--adapter DIR] --input-ids  logits fingerprint, identical to train's probe.json
  tiny-model OUTDIR --tokenizer-from SRC        random small LLaMA for fast tests

Design choices that matter for the contract (details in README.md):
  * stdout carries only JSON events: file descriptor 1 is re-pointed at stderr at start-up, so
    stray prints from libraries (or C code) cannot corrupt the event stream.
  * The data order depends only on (seed, epoch, step), never on iterator state, so a resumed
    run needs nothing but the step number, RNG states and optimizer/scheduler state to continue
    bit-identically.
  * Several processes (torchrun) split each optimizer step's micro-batches between them and sum
    gradients with one all-reduce per step, so the maths of a step does not depend on the number
    of processes (only the summation order does).
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
import traceback

# Version of the protocol in README.md; reported in the ready event so Lectern can refuse an
# engine it does not understand.
PROTOCOL_VERSION = 1
# Layout version of trainer_state.pt: a resume refuses a state file of another layout.
STATE_FORMAT = "lectern-train-state/1"

# The engine runs offline: model folders are local, and a Hub lookup would only add latency or
# hang on machines without network. setdefault so a caller can still override it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class EngineError(Exception):
    """An input problem: reported as one line (and an error event for `train`), exit 1."""


# --------------------------------------------------------------------------------------------
# Output: events on the real stdout, everything else on stderr
# --------------------------------------------------------------------------------------------

_EVENTS = None  # text stream on a duplicate of the original stdout; only events go there
_RANK = 0  # under torchrun only rank 0 prints events
_COMMAND = None  # the subcommand, so errors know whether to print an error event
_T0 = time.monotonic()


def _claim_stdout():
    """Keep the original stdout for events only and send fd 1 (print, C libraries) to stderr."""
    global _EVENTS
    if _EVENTS is not None:
        return
    sys.stdout.flush()
    _EVENTS = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)


def emit(event):
    """Write one JSON event line and flush it (rank 0 only)."""
    if _RANK != 0:
        return
    _claim_stdout()
    # allow_nan=False: a NaN would make the line invalid JSON; callers check finiteness first.
    _EVENTS.write(json.dumps(event, allow_nan=False) + "\n")
    _EVENTS.flush()


def log(msg):
    prefix = f"[lectern-train rank {_RANK}]" if _RANK else "[lectern-train]"
    print(f"{prefix} {msg}", file=sys.stderr, flush=True)


def fail(msg, code=1):
    """Report an error as one stderr line (+ an error event for `train` and `score`) and exit non-zero."""
    msg = " ".join(str(msg).split())  # one line, whatever the exception text looked like
    print(f"lectern_train: error: {msg}", file=sys.stderr, flush=True)
    if _COMMAND in ("train", "score"):
        try:
            emit({"event": "error", "message": msg})
        except Exception:  # stdout gone (reader closed the pipe): the exit code still tells
            pass
    sys.exit(code)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors follow the engine's error contract (one line + error event)."""

    def error(self, message):
        fail(f"{self.prog}: {message}", code=2)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_tree(path):
    """fsync every file of a freshly written directory, then the directory itself, so that a
    renamed (published) directory is complete even after a machine crash, not just a kill."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_dir(tmp, final):
    """Atomically move a complete directory `tmp` to `final`. An existing `final` (left by an
    earlier, interrupted attempt at the same step, so with the same content when resuming
    exactly) is replaced; readers never see a partial directory under the final name."""
    # safetensors writes through a private temp file (mode 0600); give every file the usual
    # umask-derived mode so other tools of the same machine can read the folder.
    umask = os.umask(0)
    os.umask(umask)
    for root, _dirs, files in os.walk(tmp):
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~umask)
    _fsync_tree(tmp)
    if os.path.lexists(final):
        old = f"{final}.old-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    parent = os.open(os.path.dirname(final) or ".", os.O_RDONLY)
    try:
        os.fsync(parent)
    finally:
        os.close(parent)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_model_dir(path, what="base"):
    """A Hugging Face model folder: config.json plus safetensors (or .bin) weights, readable."""
    if not os.path.exists(path):
        raise EngineError(f"{what} {path}: does not exist")
    if not os.path.isdir(path):
        raise EngineError(f"{what} {path}: not a directory (expected a model folder with config.json and model.safetensors)")
    if not os.access(path, os.R_OK | os.X_OK):
        raise EngineError(f"{what} {path}: directory is not readable")
    cfg = os.path.join(path, "config.json")
    if not os.path.isfile(cfg):
        raise EngineError(f"{what} {path}: no config.json (expected a Hugging Face model folder)")
    try:
        with open(cfg, encoding="utf-8") as f:
            json.load(f)
    except (OSError, ValueError) as e:
        raise EngineError(f"{what} {cfg}: cannot read as JSON ({e})")
    weights = [n for n in os.listdir(path)
               if n.endswith(".safetensors") or n in ("model.safetensors.index.json", "pytorch_model.bin")]
    if not weights:
        raise EngineError(f"{what} {path}: no weights (model.safetensors) in the folder")
    for n in weights:
        if not os.access(os.path.join(path, n), os.R_OK):
            raise EngineError(f"{what} {os.path.join(path, n)}: not readable")


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------

LORA_PRESETS = {
    "attention": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qv": ["q_proj", "v_proj"],
}
LORA_DEFAULTS = {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "all-linear"}
DEFAULTS = {
    "method": "lora", "learning_rate": 1e-4, "scheduler": "linear", "warmup_steps": 0,
    "epochs": 1, "max_steps": None, "batch_size": 1, "grad_accum": 1, "weight_decay": 0.0,
    "max_grad_norm": 1.0, "seed": 0, "threads": 1, "gradient_checkpointing": False,
    "dtype": "fp32", "load_in_8bit": False, "loss": "all", "checkpoint_every": 50,
    "resume": None, "probe_tokens": 32,
}
REQUIRED = ("base", "examples", "output_dir")

# Fields that change the maths of training: a resume refuses a checkpoint whose values differ.
# (threads, gradient_checkpointing, checkpoint_every, probe_tokens and paths do not.)
FINGERPRINT_FIELDS = ("method", "lora", "learning_rate", "scheduler", "warmup_steps", "epochs",
                      "max_steps", "batch_size", "grad_accum", "weight_decay", "max_grad_norm",
                      "seed", "dtype", "load_in_8bit", "loss")


def read_json_object(path, where):
    """A configuration file's JSON object; errors name the file (`where`)."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        raise EngineError(f"{where}: does not exist")
    except (OSError, ValueError) as e:
        raise EngineError(f"{where}: cannot read as JSON ({e})")
    if not isinstance(raw, dict):
        raise EngineError(f"{where}: top level must be a JSON object")
    return raw


def load_config(path):
    """Read and validate CONFIG.json; returns a dict with defaults filled in and paths absolute."""
    where = f"config {path}"
    raw = read_json_object(path, where)
    unknown = sorted(set(raw) - set(DEFAULTS) - set(REQUIRED) - {"lora"})
    if unknown:  # a typo would otherwise silently fall back to a default
        raise EngineError(f"{where}: unknown key(s) {', '.join(unknown)}")
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in raw.items() if k != "lora"})
    for k in REQUIRED:
        if not isinstance(raw.get(k), str) or not raw[k]:
            raise EngineError(f"{where}: \"{k}\" is required (a path string)")
        cfg[k] = os.path.abspath(raw[k])
    if cfg["resume"] is not None:
        if not isinstance(cfg["resume"], str) or not cfg["resume"]:
            raise EngineError(f"{where}: \"resume\" must be null or a checkpoint directory path")
        cfg["resume"] = os.path.abspath(cfg["resume"])

    def bad(key, want):
        raise EngineError(f"{where}: \"{key}\" must be {want}, got {json.dumps(cfg.get(key))}")

    def choice(key, options):
        if cfg[key] not in options:
            bad(key, " | ".join(f'"{o}"' for o in options))

    choice("method", ("lora", "full"))
    choice("scheduler", ("cosine", "linear", "constant"))
    choice("dtype", ("fp32", "bf16"))
    choice("loss", ("all", "masked"))
    if not _is_number(cfg["learning_rate"]) or cfg["learning_rate"] <= 0:
        bad("learning_rate", "a positive number")
    for key, lo in (("warmup_steps", 0), ("epochs", 1), ("batch_size", 1), ("grad_accum", 1),
                    ("seed", 0), ("threads", 1), ("probe_tokens", 1)):
        if not _is_int(cfg[key]) or cfg[key] < lo:
            bad(key, f"an integer >= {lo}")
    if cfg["max_steps"] is not None and (not _is_int(cfg["max_steps"]) or cfg["max_steps"] < 1):
        bad("max_steps", "null or an integer >= 1")
    if cfg["checkpoint_every"] is not None and (not _is_int(cfg["checkpoint_every"]) or cfg["checkpoint_every"] < 1):
        bad("checkpoint_every", "null or an integer >= 1")
    if not _is_number(cfg["weight_decay"]) or cfg["weight_decay"] < 0:
        bad("weight_decay", "a number >= 0")
    if cfg["max_grad_norm"] is not None and (not _is_number(cfg["max_grad_norm"]) or cfg["max_grad_norm"] < 0):
        bad("max_grad_norm", "null or a number >= 0 (null or 0: no clipping)")
    for key in ("gradient_checkpointing", "load_in_8bit"):
        if not isinstance(cfg[key], bool):
            bad(key, "true or false")

    lora = raw.get("lora", {})
    if lora is None:
        lora = {}
    if not isinstance(lora, dict):
        raise EngineError(f"{where}: \"lora\" must be an object")
    unknown = sorted(set(lora) - set(LORA_DEFAULTS))
    if unknown:
        raise EngineError(f"{where}: unknown key(s) in \"lora\": {', '.join(unknown)}")
    lora = {**LORA_DEFAULTS, **lora}
    if not _is_int(lora["r"]) or lora["r"] < 1:
        raise EngineError(f"{where}: lora.r must be an integer >= 1, got {json.dumps(lora['r'])}")
    if not _is_number(lora["alpha"]) or lora["alpha"] <= 0:
        raise EngineError(f"{where}: lora.alpha must be a positive number, got {json.dumps(lora['alpha'])}")
    if not _is_number(lora["dropout"]) or not 0 <= lora["dropout"] < 1:
        raise EngineError(f"{where}: lora.dropout must be in [0, 1), got {json.dumps(lora['dropout'])}")
    tm = lora["target_modules"]
    if isinstance(tm, str):
        if tm not in ("all-linear", *LORA_PRESETS):
            raise EngineError(f"{where}: lora.target_modules must be \"all-linear\", \"attention\", \"qv\" or a list of module names, got {json.dumps(tm)}")
    elif not (isinstance(tm, list) and tm and all(isinstance(x, str) and x for x in tm)):
        raise EngineError(f"{where}: lora.target_modules must be a preset name or a non-empty list of module names")
    cfg["lora"] = lora
    if cfg["load_in_8bit"] and cfg["method"] == "full":
        raise EngineError(f"{where}: load_in_8bit works only with method \"lora\" (8-bit weights cannot be trained)")
    return cfg


# --------------------------------------------------------------------------------------------
# Examples
# --------------------------------------------------------------------------------------------


CHAT_ROLES = ("system", "user", "assistant")


class ChatTokenizer:
    """Turns a `messages` line into (input_ids, loss_mask) with the base's tokenizer and chat
    template, loaded on the first such line (a file of token ids never needs a tokenizer).

    Assistant-only masking without `{% generation %}` support in the template: the conversation
    is rendered and tokenized prefix by prefix (`apply_chat_template(messages[:k])`, and for an
    assistant turn k also `messages[:k]` with `add_generation_prompt=True`, which ends with the
    assistant header). Every rendering must be a token prefix of the next one and of the whole
    conversation, else the line is refused: the masks are then exact token ranges of the ids
    that are trained on. Assistant turn k's targets are the tokens between the end of its header
    (generation prompt) and the end of `messages[:k+1]`, minus the trailing tokens after the last
    special token of that range: the content plus the end-of-turn token (`<|im_end|>`), not the
    newline a template writes after it. A range without any special token is kept whole."""

    def __init__(self, base):
        self.base = base
        self.tok = None
        self.error = None

    def _load(self):
        if self.tok is None and self.error is None:
            try:
                from transformers import AutoTokenizer

                self.tok = AutoTokenizer.from_pretrained(self.base)
            except Exception as e:
                self.error = f"cannot load the tokenizer of base {self.base} ({type(e).__name__}: {e})"
            else:
                if not getattr(self.tok, "chat_template", None):
                    self.error = f"base {self.base} has no chat template (tokenizer_config.json / chat_template.jinja)"
                    self.tok = None
                else:
                    self.special = set(int(i) for i in self.tok.all_special_ids)
                    # added tokens flagged special (e.g. <|eot_id|>) that are not in all_special_ids
                    for i, t in getattr(self.tok, "added_tokens_decoder", {}).items():
                        if getattr(t, "special", False):
                            self.special.add(int(i))
        return self.tok

    def _ids(self, messages, gen, at):
        try:
            r = self.tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=gen,
                                             return_dict=True)
        except Exception as e:
            raise EngineError(f"{at}: the chat template of base {self.base} cannot render the conversation "
                              f"({type(e).__name__}: {e})")
        ids = r["input_ids"] if hasattr(r, "keys") else r
        if ids and isinstance(ids[0], list):  # a batch of one
            ids = ids[0]
        return [int(t) for t in ids]

    def encode(self, messages, at):
        if self._load() is None:
            raise EngineError(f"{at}: a \"messages\" line needs the base's tokenizer with a chat template: {self.error}")
        full = self._ids(messages, False, at)
        mask = [0] * len(full)

        def prefix(ids, what):
            if full[:len(ids)] != ids:
                raise EngineError(
                    f"{at}: the chat template does not render this conversation prefix by prefix ({what} "
                    f"tokenizes to {len(ids)} ids that are not a prefix of the whole conversation's "
                    f"{len(full)}); assistant-only loss needs that property (a usual cause: a message that starts or "
                    f"ends with whitespace the tokenizer merges with the template's own text)")
            return len(ids)

        prev = 0
        for k, m in enumerate(messages):
            end = prefix(self._ids(messages[:k + 1], False, at), f"messages 1..{k + 1}") if k + 1 < len(messages) else len(full)
            if end < prev:
                raise EngineError(f"{at}: the chat template renders messages 1..{k + 1} shorter than messages 1..{k}")
            if m["role"] == "assistant":
                if k == 0:
                    raise EngineError(f"{at}: message 1 is an assistant message: the conversation must start with a "
                                      f"system or user message (the assistant header is found by rendering the messages before it)")
                start = prefix(self._ids(messages[:k], True, at), f"messages 1..{k} + the assistant header")
                if not prev <= start <= end:
                    raise EngineError(f"{at}: message {k + 1} (assistant): its header does not end inside its own "
                                      f"rendering (tokens {start} vs {prev}..{end})")
                stop = end
                while stop > start and full[stop - 1] not in self.special:
                    stop -= 1
                if stop == start:  # no end-of-turn token in the range: keep it whole
                    stop = end
                for i in range(start, stop):
                    mask[i] = 1
            prev = end
        return full, mask


def _check_messages(msgs, at):
    if not isinstance(msgs, list) or not msgs:
        raise EngineError(f"{at}: \"messages\" must be a non-empty list of {{\"role\", \"content\"}} objects")
    out = []
    for j, m in enumerate(msgs, 1):
        if not isinstance(m, dict):
            raise EngineError(f"{at}: message {j} is not an object")
        role, content = m.get("role"), m.get("content")
        if role not in CHAT_ROLES:
            raise EngineError(f"{at}: message {j}: \"role\" must be \"system\", \"user\" or \"assistant\", got {json.dumps(role)}")
        if not isinstance(content, str):
            raise EngineError(f"{at}: message {j}: \"content\" must be a string")
        out.append({"role": role, "content": content})
    return out


def load_examples(path, vocab_size, max_positions, loss_mode, base=None):
    """Parse examples.jsonl into (input_ids, target_mask) numpy pairs, validating every line.

    A line is either token ids (`input_ids`, optional `loss_mask`) or a chat (`messages`),
    tokenized with the base's chat template into ids and an assistant-only loss_mask
    (ChatTokenizer). target_mask[i] says whether token i is a prediction target (its logit comes
    from position i-1); position 0 is never a target. `all`: every token; `masked`: tokens whose
    loss_mask is 1 (a missing loss_mask means all tokens).

    Returns (examples, chat_sha256): chat_sha256 is the sha256 of the tokenized messages lines
    (ids and masks, in order), None when the file has none.
    """
    import numpy as np

    where = f"examples {path}"
    if not os.path.exists(path):
        raise EngineError(f"{where}: does not exist")
    examples = []
    chat = ChatTokenizer(base)
    chat_hash = None
    try:
        f = open(path, "rb")
    except OSError as e:
        raise EngineError(f"{where}: cannot open ({e.strerror})")
    with f:
        for lineno, line in enumerate(f, 1):
            at = f"{where} line {lineno}"
            if not line.strip():
                raise EngineError(f"{at}: blank line (expected one JSON object per line)")
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise EngineError(f"{at}: not valid JSON ({e})")
            if not isinstance(obj, dict):
                raise EngineError(f"{at}: expected a JSON object")
            if "messages" in obj:
                if "input_ids" in obj or "loss_mask" in obj:
                    raise EngineError(f"{at}: has both \"messages\" and \"input_ids\"/\"loss_mask\" (one shape per line)")
                msgs = _check_messages(obj["messages"], at)
                ids, mask = chat.encode(msgs, at)
                if chat_hash is None:
                    chat_hash = hashlib.sha256()
                chat_hash.update(json.dumps([lineno, ids, mask]).encode())
                what = "the tokenized conversation"
                if len(ids) < 2:
                    raise EngineError(f"{at}: {what} has fewer than 2 tokens ({len(ids)})")
                for j, t in enumerate(ids):
                    if t < 0 or t >= vocab_size:
                        raise EngineError(f"{at}: token {j} of {what} = {t} is outside the model's vocabulary [0, {vocab_size})")
            else:
                ids = obj.get("input_ids")
                if ids is None:
                    raise EngineError(f"{at}: missing \"input_ids\" (or \"messages\")")
                what = "input_ids"
                if not isinstance(ids, list):
                    raise EngineError(f"{at}: \"input_ids\" must be a list of integers")
                if len(ids) < 2:
                    raise EngineError(f"{at}: \"input_ids\" needs at least 2 tokens (got {len(ids)})")
                for j, t in enumerate(ids):
                    if not _is_int(t):
                        raise EngineError(f"{at}: input_ids[{j}] = {json.dumps(t)} is not an integer")
                    if t < 0 or t >= vocab_size:
                        raise EngineError(f"{at}: input_ids[{j}] = {t} is outside the vocabulary [0, {vocab_size})")
                mask = obj.get("loss_mask")
                if mask is not None:
                    if not isinstance(mask, list) or any(m not in (0, 1) or isinstance(m, bool) for m in mask):
                        raise EngineError(f"{at}: \"loss_mask\" must be a list of 0/1 integers")
                    if len(mask) != len(ids):
                        raise EngineError(f"{at}: loss_mask has {len(mask)} entries but input_ids has {len(ids)}")
            if max_positions and len(ids) > max_positions:
                raise EngineError(f"{at}: {len(ids)} tokens exceed the model's max_position_embeddings {max_positions}")
            target = np.ones(len(ids), dtype=bool)
            if loss_mode == "masked" and mask is not None:
                target = np.asarray(mask, dtype=bool)
            target[0] = False
            if not target.any():
                if what == "input_ids":
                    raise EngineError(f"{at}: no target tokens (loss_mask is 0 everywhere after the first token)")
                raise EngineError(f"{at}: no target tokens (no assistant message with tokens to learn)")
            examples.append((np.asarray(ids, dtype=np.int64), target))
    if not examples:
        raise EngineError(f"{where}: no examples (empty file)")
    return examples, (chat_hash.hexdigest() if chat_hash is not None else None)


def epoch_permutation(seed, epoch, n):
    """The example order of one epoch: torch.randperm from a Generator seeded with
    sha256("lectern:{seed}:{epoch}")[:8] (little endian, top bit cleared). Independent of every
    other RNG, so it is the same in a fresh and a resumed run."""
    import torch

    digest = hashlib.sha256(f"lectern:{seed}:{epoch}".encode()).digest()
    g = torch.Generator()
    g.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
    return torch.randperm(n, generator=g).tolist()


def collate(examples, idx, pad_id):
    """Right-pad a micro-batch: input_ids, attention_mask, labels (-100 where not a target)."""
    import torch

    length = max(len(examples[i][0]) for i in idx)
    ids = torch.full((len(idx), length), pad_id, dtype=torch.long)
    att = torch.zeros((len(idx), length), dtype=torch.long)
    labels = torch.full((len(idx), length), -100, dtype=torch.long)
    tokens = 0
    for row, i in enumerate(idx):
        x, target = examples[i]
        n = len(x)
        t = torch.from_numpy(x)
        ids[row, :n] = t
        att[row, :n] = 1
        labels[row, :n] = torch.where(torch.from_numpy(target), t, torch.tensor(-100))
        tokens += n
    n_targets = int((labels[:, 1:] != -100).sum())
    return ids, att, labels, tokens, n_targets


# --------------------------------------------------------------------------------------------
# Probe: a fingerprint of the weights, shared by `train` (probe.json) and `probe`
# --------------------------------------------------------------------------------------------


def compute_probe(model, input_ids, device):
    """Forward `input_ids` (one row, no padding) in eval mode, fp32, without autocast or grad,
    with torch.set_num_threads(1) (CPU kernels may reduce in a different order with more threads,
    so one thread makes the bytes depend on the weights only). Restores train mode and threads."""
    import torch

    was_training = model.training
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.eval()
        with torch.no_grad():
            ids = torch.tensor([list(input_ids)], dtype=torch.long, device=device)
            logits = model(input_ids=ids, use_cache=False).logits
            logits = logits.detach().to("cpu", torch.float32).contiguous()
    finally:
        torch.set_num_threads(threads)
        if was_training:
            model.train()
    data = logits.numpy().astype("<f4", copy=False).tobytes()
    return {
        "logits_sha256": hashlib.sha256(data).hexdigest(),
        "logits_head": [float(v) for v in logits[0, -1, :8].tolist()],
        "shape": list(logits.shape),
    }


# --------------------------------------------------------------------------------------------
# LoRA setup
# --------------------------------------------------------------------------------------------


def lora_targets(model, spec, r):
    """Resolve lora.target_modules to PEFT's argument and check the rank against every layer it
    selects, before any adapter memory is allocated. Mirrors PEFT: names match a module's full
    name or a dotted suffix of it; "all-linear" is every nn.Linear except the output layer."""
    import torch.nn as nn

    out_emb = model.get_output_embeddings()
    linear = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if spec == "all-linear":
        chosen = [(n, m) for n, m in linear if m is not out_emb]
        peft_arg = "all-linear"
    else:
        keys = LORA_PRESETS.get(spec, spec) if isinstance(spec, str) else spec
        chosen = [(n, m) for n, m in linear if any(n == k or n.endswith("." + k) for k in keys)]
        peft_arg = list(keys)
    if not chosen:
        raise EngineError(f"lora.target_modules {json.dumps(spec)} matches no linear layer of the base model")
    # A rank above min(in, out) adds parameters but no expressiveness (the update's rank is capped
    # by the smaller side); PEFT accepts it, and the paper's r = 256 meets SmolLM2's 192-wide k/v
    # projections that way. A rank above both sides of a layer is larger than the layer itself:
    # surely a mistake (r = 4096 for 40), refused before any memory is spent on it.
    for name, m in chosen:
        if r > max(m.in_features, m.out_features):
            raise EngineError(
                f"lora.r = {r} is larger than layer {name} (in_features {m.in_features}, out_features "
                f"{m.out_features}); use r <= {min(max(x.in_features, x.out_features) for _, x in chosen)} "
                f"or other target_modules")
    capped = sorted({(min(m.in_features, m.out_features), n.split(".")[-1]) for n, m in chosen
                     if r > min(m.in_features, m.out_features)})
    if capped:
        log(f"note: lora.r = {r} exceeds min(in, out) of " + ", ".join(f"{k} ({w})" for w, k in capped)
            + ": their updates have rank at most that width")
    return peft_arg


def adapter_config_dict(peft_model):
    """The adapter_config.json content PeftModel.save_pretrained writes (same transformations:
    base_model_name_or_path filled in, inference_mode true, sets as lists)."""
    import copy

    cfg = copy.deepcopy(peft_model.peft_config["default"])
    if cfg.base_model_name_or_path is None:
        cfg.base_model_name_or_path = peft_model.base_model.model.__dict__.get("name_or_path", None) or None
    cfg.inference_mode = True
    out = cfg.to_dict()
    for k, v in out.items():
        if isinstance(v, set):
            out[k] = sorted(v)
    # json round trip: enums and tuples become what the file holds
    return json.loads(json.dumps(out, sort_keys=True))


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


def _rng_state():
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state):
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def cmd_train(args):
    global _RANK
    t_start = time.monotonic()
    cfg = load_config(os.path.abspath(args.config))

    import numpy as np
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, get_scheduler

    # ---- processes and device ----------------------------------------------------------------
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    _RANK = rank
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.set_num_threads(cfg["threads"])

    # ---- inputs, checked before anything expensive ------------------------------------------
    check_model_dir(cfg["base"])
    try:
        mconf = AutoConfig.from_pretrained(cfg["base"])
    except Exception as e:
        raise EngineError(f"base {cfg['base']}: cannot load config.json ({type(e).__name__}: {e})")
    vocab_size = getattr(mconf, "vocab_size", None)
    if not _is_int(vocab_size):
        raise EngineError(f"base {cfg['base']}: config.json has no vocab_size")
    if cfg["load_in_8bit"] and not cuda:
        raise EngineError("load_in_8bit needs a CUDA device (bitsandbytes 8-bit kernels); this machine has none: set load_in_8bit to false")
    if cfg["load_in_8bit"]:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise EngineError("load_in_8bit needs the bitsandbytes package, which is not installed in this Python")
    if cfg["dtype"] == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise EngineError(f"dtype bf16 is not supported by {torch.cuda.get_device_name(device)}: use fp32")
    if cfg["resume"] is not None:
        rdir = cfg["resume"]
        if not os.path.isdir(rdir):
            raise EngineError(f"resume {rdir}: not a directory")
        need = ["trainer_state.pt"] + (["adapter_model.safetensors", "adapter_config.json"]
                                       if cfg["method"] == "lora" else ["model.safetensors", "config.json"])
        missing = [n for n in need if not os.path.isfile(os.path.join(rdir, n))]
        if missing:
            raise EngineError(f"resume {rdir}: not a complete {cfg['method']} checkpoint (missing {', '.join(missing)})")
    examples, chat_sha256 = load_examples(cfg["examples"], vocab_size,
                                          getattr(mconf, "max_position_embeddings", None), cfg["loss"],
                                          base=cfg["base"])
    try:  # fail now, not after minutes of training at the first checkpoint
        os.makedirs(cfg["output_dir"], exist_ok=True)
    except OSError as e:
        raise EngineError(f"output_dir {cfg['output_dir']}: cannot create ({e.strerror})")
    if not os.access(cfg["output_dir"], os.W_OK | os.X_OK):
        raise EngineError(f"output_dir {cfg['output_dir']}: not writable")
    n_examples = len(examples)
    fingerprint = {k: cfg[k] for k in FINGERPRINT_FIELDS}
    fingerprint["examples_sha256"] = sha256_file(cfg["examples"])
    fingerprint["base_config_sha256"] = sha256_file(os.path.join(cfg["base"], "config.json"))
    if chat_sha256 is not None:
        # messages lines depend on the tokenizer and chat template too, not only on the file's
        # bytes; only present then, so checkpoints of id-only runs keep their fingerprint.
        fingerprint["chat_tokens_sha256"] = chat_sha256
    if cfg["method"] == "full":
        fingerprint["lora"] = None  # not used, so not part of the identity

    resume_state = None
    if cfg["resume"] is not None:
        try:
            resume_state = torch.load(os.path.join(cfg["resume"], "trainer_state.pt"),
                                      map_location="cpu", weights_only=False)
        except Exception as e:
            raise EngineError(f"resume {cfg['resume']}/trainer_state.pt: cannot load ({type(e).__name__}: {e})")
        if not isinstance(resume_state, dict) or resume_state.get("format") != STATE_FORMAT:
            raise EngineError(f"resume {cfg['resume']}/trainer_state.pt: not a {STATE_FORMAT} state file")
        for k, v in fingerprint.items():
            old = resume_state["fingerprint"].get(k)
            if old != v:
                raise EngineError(f"resume {cfg['resume']}: {k} was {json.dumps(old)} in the checkpoint's run but is {json.dumps(v)} now")

    # ---- process group (torchrun) -------------------------------------------------------------
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
        log(f"process group up: rank {rank} of {world} ({'nccl' if cuda else 'gloo'})")

    # ---- seeds: python, numpy, torch; same on every rank for identical adapter initialisation --
    random.seed(cfg["seed"])
    np.random.seed(cfg["seed"] % (1 << 32))
    torch.manual_seed(cfg["seed"])

    # ---- model ------------------------------------------------------------------------------
    load_from = cfg["resume"] if (resume_state and cfg["method"] == "full") else cfg["base"]
    kwargs = {"dtype": torch.float32}  # fp32 master weights; bf16 is autocast (below)
    if cfg["load_in_8bit"]:
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(load_in_8bit=True)
        kwargs["device_map"] = {"": device}
    t_load = time.monotonic()
    try:
        model = AutoModelForCausalLM.from_pretrained(load_from, **kwargs)
    except Exception as e:
        raise EngineError(f"base {load_from}: cannot load the model ({type(e).__name__}: {e})")
    if not cfg["load_in_8bit"]:
        model.to(device)
    log(f"loaded {type(model).__name__} from {load_from} in {time.monotonic() - t_load:.1f}s")
    model.config.use_cache = False  # no KV cache while training
    if cfg["gradient_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    target_modules = []
    adapter_config = None
    if cfg["method"] == "lora":
        import peft

        lc = cfg["lora"]
        peft_arg = lora_targets(model, lc["target_modules"], lc["r"])
        if cfg["load_in_8bit"]:
            model = peft.prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=cfg["gradient_checkpointing"])
        lora_config = peft.LoraConfig(r=lc["r"], lora_alpha=lc["alpha"], lora_dropout=lc["dropout"],
                                      target_modules=peft_arg, bias="none", task_type="CAUSAL_LM")
        model = peft.get_peft_model(model, lora_config)
        from peft.tuners.lora import LoraLayer

        target_modules = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, LoraLayer)})
        # PEFT keeps target_modules as a set, written in hash order (differs between runs);
        # a sorted list adapts the same modules on reload and makes adapter_config.json stable.
        model.peft_config["default"].target_modules = list(target_modules)
        adapter_config = adapter_config_dict(model)
        if resume_state is not None:
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            sd = load_file(os.path.join(cfg["resume"], "adapter_model.safetensors"), device=str(device))
            res = set_peft_model_state_dict(model, sd)
            unexpected = list(getattr(res, "unexpected_keys", []) or [])
            if unexpected:
                raise EngineError(f"resume {cfg['resume']}/adapter_model.safetensors: tensors not in this model: {unexpected[:3]}")
    else:
        for p in model.parameters():
            p.requires_grad_(True)
    model.train()

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for _, p in trainable)
    n_total = sum(p.numel() for p in model.parameters())

    if world > 1:
        # Same start on every rank (the DDP guarantee): rank 0's trainable weights win.
        with torch.no_grad():
            for _, p in trainable:
                dist.broadcast(p.data, src=0)
        # Different dropout masks per rank; rank 0 keeps the single-process stream.
        if rank:
            torch.manual_seed(cfg["seed"] + 1_000_003 * rank)

    # ---- optimizer, schedule ----------------------------------------------------------------
    # AdamW; like Hugging Face's Trainer, no weight decay on biases and norm weights (ndim < 2).
    decay = [p for _, p in trainable if p.ndim >= 2]
    no_decay = [p for _, p in trainable if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg["weight_decay"]}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=cfg["learning_rate"])

    per_step = cfg["batch_size"] * cfg["grad_accum"]  # examples per optimizer step, all ranks
    steps_per_epoch = math.ceil(n_examples / per_step)
    total_steps = cfg["max_steps"] if cfg["max_steps"] is not None else cfg["epochs"] * steps_per_epoch
    sched_name = cfg["scheduler"]
    if sched_name == "constant" and cfg["warmup_steps"] > 0:
        sched_name = "constant_with_warmup"
    scheduler = get_scheduler(sched_name, optimizer, num_warmup_steps=cfg["warmup_steps"],
                              num_training_steps=total_steps)

    start_step = 0
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        rngs = resume_state["rng"]
        if len(rngs) != world:
            log(f"warning: checkpoint was written by {len(rngs)} process(es), now {world}: "
                "dropout masks of ranks beyond the checkpoint's restart from the seed (not bit-exact)")
        if rank < len(rngs):
            _set_rng_state(rngs[rank])
        start_step = int(resume_state["step"])
        log(f"resumed from {cfg['resume']} at step {start_step}")

    pad_id = _pad_id(cfg["base"], mconf)
    probe_ids = examples[0][0][: cfg["probe_tokens"]].tolist()
    autocast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16)
                if cfg["dtype"] == "bf16" else _nullcontext())
    unwrapped = model
    if rank == 0:  # temp dirs of a killed earlier run are garbage by construction
        for n in os.listdir(cfg["output_dir"]):
            if n.startswith(".checkpoint-") and ".tmp-" in n:
                shutil.rmtree(os.path.join(cfg["output_dir"], n), ignore_errors=True)

    emit({
        "event": "ready", "protocol": PROTOCOL_VERSION, "total_steps": total_steps,
        "trainable_parameters": n_trainable, "total_parameters": n_total,
        "target_modules": target_modules, "adapter_config": adapter_config,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "peft": _peft_version()},
        "device": device.type, "dtype": cfg["dtype"], "world_size": world, "start_step": start_step,
        "examples": n_examples, "steps_per_epoch": steps_per_epoch,
    })

    perm_cache = {}
    for step in range(start_step + 1, total_steps + 1):
        t_step = time.monotonic()
        epoch_index, in_epoch = divmod(step - 1, steps_per_epoch)
        if epoch_index not in perm_cache:
            perm_cache.clear()
            perm_cache[epoch_index] = epoch_permutation(cfg["seed"], epoch_index, n_examples)
        step_idx = perm_cache[epoch_index][in_epoch * per_step:(in_epoch + 1) * per_step]
        micro = [step_idx[i:i + cfg["batch_size"]] for i in range(0, len(step_idx), cfg["batch_size"])]
        # Every rank knows the whole step, so the token-weighted normaliser needs no communication.
        batches = [collate(examples, mb, pad_id) for mb in micro]
        step_tokens = sum(b[3] for b in batches)
        step_targets = sum(b[4] for b in batches)

        loss_sum = torch.zeros((), dtype=torch.float64)
        for j, (ids, att, labels, _tok, _nt) in enumerate(batches):
            if j % world != rank:  # micro-batch j belongs to rank j mod world_size
                continue
            ids, att, labels = ids.to(device), att.to(device), labels.to(device)
            with autocast:
                logits = model(input_ids=ids, attention_mask=att, use_cache=False).logits
            # Summed token NLL over this micro-batch's targets, divided by the whole step's target
            # count: the accumulated gradient is the token-weighted mean over the step.
            nll = F.cross_entropy(logits[:, :-1, :].float().reshape(-1, logits.shape[-1]),
                                  labels[:, 1:].reshape(-1), ignore_index=-100, reduction="sum")
            (nll / step_targets).backward()
            loss_sum += nll.detach().double().cpu()
            del logits, nll

        params = [p for _, p in trainable]
        if world > 1:
            # Gradient sum over ranks (each rank already divided by the step-wide target count),
            # one flat all-reduce; ranks without a micro-batch this step contribute zeros.
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            flat = torch.cat([p.grad.reshape(-1) for p in params])
            dist.all_reduce(flat)
            off = 0
            for p in params:
                n = p.numel()
                p.grad.copy_(flat[off:off + n].view_as(p.grad))
                off += n
            del flat
            loss_t = loss_sum.to(device)
            dist.all_reduce(loss_t)
            loss_sum = loss_t.cpu()
        max_norm = cfg["max_grad_norm"] if cfg["max_grad_norm"] else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        loss = float(loss_sum) / step_targets
        if not math.isfinite(loss) or not math.isfinite(grad_norm):
            raise EngineError(f"step {step}: loss {loss} / grad norm {grad_norm} is not finite (training diverged; lower learning_rate or use fp32)")
        lr = float(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        seconds = time.monotonic() - t_step
        emit({"event": "step", "step": step, "epoch": step / steps_per_epoch, "loss": loss,
              "learning_rate": lr, "grad_norm": grad_norm, "tokens": step_tokens,
              "tokens_per_second": step_tokens / seconds if seconds > 0 else 0.0, "seconds": seconds})

        if step == total_steps or (cfg["checkpoint_every"] and step % cfg["checkpoint_every"] == 0):
            rngs = [_rng_state()]
            if world > 1:
                rngs = [None] * world
                dist.all_gather_object(rngs, _rng_state())
            if rank == 0:
                consumed = min((in_epoch + 1) * per_step, n_examples)
                state = {
                    "format": STATE_FORMAT, "step": step, "epoch": step / steps_per_epoch,
                    "epoch_index": epoch_index, "position_in_epoch": consumed,
                    "total_steps": total_steps, "world_size": world,
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rngs, "fingerprint": fingerprint,
                }
                ckpt = write_checkpoint(unwrapped, cfg, step, state, probe_ids, device)
                emit({"event": "checkpoint", "step": step, "dir": ckpt})

    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    emit({"event": "done", "step": total_steps, "seconds": time.monotonic() - t_start})


def write_checkpoint(model, cfg, step, state, probe_ids, device):
    """Write output_dir/checkpoint-STEP via a temp dir + rename; return the final path."""
    import torch

    final = os.path.join(cfg["output_dir"], f"checkpoint-{step}")
    tmp = os.path.join(cfg["output_dir"], f".checkpoint-{step}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    if cfg["method"] == "lora":
        model.save_pretrained(tmp)  # adapter_model.safetensors + adapter_config.json
    else:
        model.save_pretrained(tmp, safe_serialization=True)  # model.safetensors + config.json
    readme = os.path.join(tmp, "README.md")  # PEFT's model card: not part of the checkpoint
    if os.path.exists(readme):
        os.remove(readme)
    torch.save(state, os.path.join(tmp, "trainer_state.pt"))
    probe = {"step": step, "input_ids": list(probe_ids), **compute_probe(model, probe_ids, device)}
    with open(os.path.join(tmp, "probe.json"), "w", encoding="utf-8") as f:
        json.dump(probe, f)
    publish_dir(tmp, final)
    return final


def _pad_id(base, mconf):
    """Padding id: the tokenizer's pad token, else its eos, else the model config's."""
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(base)
        for v in (tok.pad_token_id, tok.eos_token_id):
            if v is not None:
                return int(v)
    except Exception as e:  # tokenizer files are optional for training on ids
        log(f"no tokenizer in {base} ({type(e).__name__}); padding with the config's ids")
    for v in (getattr(mconf, "pad_token_id", None), getattr(mconf, "eos_token_id", None)):
        if isinstance(v, list) and v:
            v = v[0]
        if _is_int(v):
            return v
    return 0  # padding positions are masked out of attention and loss, so any id is correct


def _peft_version():
    try:
        import peft

        return peft.__version__
    except ImportError:
        return None


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------------------------
# probe
# --------------------------------------------------------------------------------------------


def cmd_probe(args):
    base = os.path.abspath(args.base)
    check_model_dir(base)
    try:
        ids = [int(x) for x in args.input_ids.split(",") if x.strip()]
    except ValueError:
        raise EngineError(f"--input-ids {args.input_ids!r}: expected comma-separated integers")
    if not ids:
        raise EngineError("--input-ids: no ids given")
    adapter = os.path.abspath(args.adapter) if args.adapter else None
    if adapter:
        for n in ("adapter_config.json", "adapter_model.safetensors"):
            if not os.path.isfile(os.path.join(adapter, n)):
                raise EngineError(f"adapter {adapter}: missing {n}")
    import torch
    from transformers import AutoModelForCausalLM

    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).to(device)
    except Exception as e:
        raise EngineError(f"base {base}: cannot load the model ({type(e).__name__}: {e})")
    vocab = model.get_input_embeddings().weight.shape[0]
    bad = [t for t in ids if t < 0 or t >= vocab]
    if bad:
        raise EngineError(f"--input-ids: id {bad[0]} is outside the vocabulary [0, {vocab})")
    if adapter:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, adapter)
        except Exception as e:
            raise EngineError(f"adapter {adapter}: cannot load ({type(e).__name__}: {e})")
    _claim_stdout()
    emit(compute_probe(model, ids, device))


# --------------------------------------------------------------------------------------------
# convert-gguf
# --------------------------------------------------------------------------------------------

CONVERTED_FILES = ("config.json", "model.safetensors", "tokenizer_config.json", "lectern_source.json")


def _safetensors_parameters(path):
    """Parameter count from a safetensors header (no tensor data read)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")


def cmd_convert(args):
    t0 = time.monotonic()
    src = os.path.abspath(args.gguf)
    out = os.path.abspath(args.outdir)
    if not os.path.isfile(src):
        raise EngineError(f"gguf {src}: does not exist")
    try:
        with open(src, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise EngineError(f"gguf {src}: cannot read ({e.strerror})")
    if magic != b"GGUF":
        raise EngineError(f"gguf {src}: not a GGUF file (bad magic {magic!r})")
    source = {"gguf": src, "gguf_sha256": sha256_file(src), "gguf_bytes": os.path.getsize(src)}
    if os.path.isdir(out):
        have = os.listdir(out)
        if all(n in have for n in CONVERTED_FILES):  # complete (we only ever rename complete dirs)
            with open(os.path.join(out, "lectern_source.json"), encoding="utf-8") as f:
                old = json.load(f)
            if old.get("gguf_sha256") != source["gguf_sha256"]:
                raise EngineError(f"outdir {out}: holds a conversion of another GGUF ({old.get('gguf')}, sha256 "
                                  f"{str(old.get('gguf_sha256'))[:12]}...); remove it or choose another")
            emit({"event": "converted", "dir": out,
                  "parameters": _safetensors_parameters(os.path.join(out, "model.safetensors")),
                  "seconds": time.monotonic() - t0, "cached": True})
            return
        if have:
            raise EngineError(f"outdir {out}: exists but is not a converted model (missing "
                              f"{', '.join(n for n in CONVERTED_FILES if n not in have)}); remove it or choose another")
        os.rmdir(out)
    elif os.path.exists(out):
        raise EngineError(f"outdir {out}: exists and is not a directory")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d, name = os.path.split(src)
    try:
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    except Exception as e:
        raise EngineError(f"gguf {src}: transformers cannot load it ({type(e).__name__}: {e})")
    # transformers marks a GGUF-loaded model as "quantized with gguf" (although the weights are
    # dequantised fp32) and then refuses save_pretrained; clearing the marks saves a plain copy.
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    model.hf_quantizer = None
    model.is_quantized = False
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = f"{out}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        # Which GGUF this folder came from: a later call with another file must not reuse it.
        with open(os.path.join(tmp, "lectern_source.json"), "w", encoding="utf-8") as f:
            json.dump(source, f, indent=2)
        publish_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    emit({"event": "converted", "dir": out, "parameters": model.num_parameters(),
          "seconds": time.monotonic() - t0, "cached": False})


# --------------------------------------------------------------------------------------------
# tiny-model
# --------------------------------------------------------------------------------------------


def cmd_tiny(args):
    t0 = time.monotonic()
    src = os.path.abspath(args.tokenizer_from)
    out = os.path.abspath(args.outdir)
    if os.path.exists(out):
        raise EngineError(f"outdir {out}: already exists")
    for k in ("hidden", "layers", "heads", "kv_heads", "intermediate"):
        if getattr(args, k) < 1:
            raise EngineError(f"--{k.replace('_', '-')}: must be >= 1")
    if args.hidden % args.heads or args.heads % args.kv_heads:
        raise EngineError(f"--hidden {args.hidden} must be divisible by --heads {args.heads}, and --heads by --kv-heads {args.kv_heads}")
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    try:
        if os.path.isdir(src):
            tok = AutoTokenizer.from_pretrained(src)
        elif os.path.isfile(src):
            tok = AutoTokenizer.from_pretrained(os.path.dirname(src), gguf_file=os.path.basename(src))
        else:
            raise EngineError(f"tokenizer-from {src}: does not exist")
    except EngineError:
        raise
    except Exception as e:
        raise EngineError(f"tokenizer-from {src}: cannot load a tokenizer ({type(e).__name__}: {e})")
    vocab = len(tok)  # includes added special tokens, so every id the tokenizer emits is valid
    config = LlamaConfig(
        vocab_size=vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
        num_hidden_layers=args.layers, num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads, max_position_embeddings=2048,
        tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(args.seed)
    model = LlamaForCausalLM(config).to(torch.float32)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = f"{out}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        publish_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    emit({"event": "tiny-model", "dir": out, "vocab_size": vocab, "parameters": model.num_parameters(),
          "seconds": time.monotonic() - t0})


# --------------------------------------------------------------------------------------------
# score: multiple-choice log-likelihoods (AdaptLLM's and lm-evaluation-harness's) and greedy
# generation, for evaluation
# --------------------------------------------------------------------------------------------

SCORE_DEFAULTS = {"adapter": None, "threads": 1, "dtype": "fp32", "max_length": 2048}
SCORE_REQUIRED = ("base", "items")


def load_score_config(path):
    """Read and validate a score CONFIG.json (unknown keys are errors, as for train)."""
    where = f"config {path}"
    raw = read_json_object(path, where)
    unknown = sorted(set(raw) - set(SCORE_DEFAULTS) - set(SCORE_REQUIRED))
    if unknown:
        raise EngineError(f"{where}: unknown key(s) {', '.join(unknown)}")
    cfg = {**SCORE_DEFAULTS, **raw}
    for k in SCORE_REQUIRED:
        if not isinstance(raw.get(k), str) or not raw[k]:
            raise EngineError(f"{where}: \"{k}\" is required (a path string)")
        cfg[k] = os.path.abspath(raw[k])
    if cfg["adapter"] is not None:
        if not isinstance(cfg["adapter"], str) or not cfg["adapter"]:
            raise EngineError(f"{where}: \"adapter\" must be null or a PEFT adapter directory path")
        cfg["adapter"] = os.path.abspath(cfg["adapter"])
    if cfg["dtype"] not in ("fp32", "bf16"):
        raise EngineError(f"{where}: \"dtype\" must be \"fp32\" | \"bf16\", got {json.dumps(cfg['dtype'])}")
    if not _is_int(cfg["threads"]) or cfg["threads"] < 1:
        raise EngineError(f"{where}: \"threads\" must be an integer >= 1, got {json.dumps(cfg['threads'])}")
    if not _is_int(cfg["max_length"]) or cfg["max_length"] < 2:
        raise EngineError(f"{where}: \"max_length\" must be an integer >= 2, got {json.dumps(cfg['max_length'])}")
    return cfg


def load_items(path, max_length):
    """Parse items.jsonl (choice / generation lines), checking every line before the model loads.
    Other keys of a line (a gold label, say) are ignored. Returns a list of dicts with `line`
    and `at` (the "items PATH line N" prefix of error messages)."""
    where = f"items {path}"
    if not os.path.exists(path):
        raise EngineError(f"{where}: does not exist")
    try:
        f = open(path, "rb")
    except OSError as e:
        raise EngineError(f"{where}: cannot open ({e.strerror})")
    items, seen = [], {}
    with f:
        for lineno, line in enumerate(f, 1):
            at = f"{where} line {lineno}"
            if not line.strip():
                raise EngineError(f"{at}: blank line (expected one JSON object per line)")
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise EngineError(f"{at}: not valid JSON ({e})")
            if not isinstance(obj, dict):
                raise EngineError(f"{at}: expected a JSON object")
            iid = obj.get("id")
            if not _is_int(iid):
                raise EngineError(f"{at}: \"id\" must be an integer, got {json.dumps(iid)}")
            if iid in seen:
                raise EngineError(f"{at}: id {iid} already used on line {seen[iid]}")
            seen[iid] = lineno
            kind = obj.get("kind")
            text = obj.get("input")
            if not isinstance(text, str) or not text.strip():
                raise EngineError(f"{at}: \"input\" must be a string with at least one non-space character")
            item = {"id": iid, "kind": kind, "input": text, "line": lineno, "at": at}
            if kind == "choice":
                opts = obj.get("options")
                if not isinstance(opts, list) or not opts or not all(isinstance(o, str) for o in opts):
                    raise EngineError(f"{at}: \"options\" must be a non-empty list of strings")
                delim = obj.get("delimiter")
                if not isinstance(delim, str):
                    raise EngineError(f"{at}: \"delimiter\" must be a string (\" \" for AdaptLLM / lm-eval prompts)")
                item.update(options=opts, delimiter=delim)
            elif kind == "generation":
                mnt = obj.get("max_new_tokens")
                if not _is_int(mnt) or not 1 <= mnt < max_length:
                    raise EngineError(f"{at}: \"max_new_tokens\" must be an integer in [1, max_length {max_length}), got {json.dumps(mnt)}")
                stop = obj.get("stop")
                if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
                    raise EngineError(f"{at}: \"stop\" must be a list of non-empty strings ([] for none)")
                item.update(max_new_tokens=mnt, stop=stop)
            else:
                raise EngineError(f"{at}: \"kind\" must be \"choice\" or \"generation\", got {json.dumps(kind)}")
            items.append(item)
    if not items:
        raise EngineError(f"{where}: no items (empty file)")
    return items


def _encode(tok, text):
    """tokenize(text) as AdaptLLM and lm-eval call it: the tokenizer's default special tokens
    (a BOS only where the tokenizer adds one by itself)."""
    return [int(t) for t in tok(text)["input_ids"]]


def plan_choice(tok, item, max_length):
    """Token-level plan of one choice item: for every option, AdaptLLM's and lm-eval's
    (prefix, continuation) pair, left-truncated as lm-eval truncates.

    AdaptLLM: whole = tokenize(input + delimiter + option); the model reads `whole`, and the
    scored tokens are whole[len(tokenize(input)):] (so the context the model sees is
    whole[:len(tokenize(input))], which differs from tokenize(input) when the tokenizer merges
    across the boundary).
    lm-eval 0.4.x (HFLM._encode_pair): trailing whitespace of the context moves to the
    continuation; ctx = tokenize(input.rstrip()), cont = tokenize(input + delimiter + option)
    [len(ctx):]; the model reads ctx + cont (not `whole`).
    Both then feed (prefix + cont)[-(max_length + 1):][:-1] (lm-eval's truncation rule)."""
    at = item["at"]
    text = item["input"]
    ctx_a = _encode(tok, text)
    ctx_l = _encode(tok, text.rstrip())
    plans = []
    for j, opt in enumerate(item["options"]):
        whole = _encode(tok, text + item["delimiter"] + opt)
        cont_a, cont_l = whole[len(ctx_a):], whole[len(ctx_l):]
        if not cont_a or not cont_l:
            raise EngineError(f"{at}: option {j + 1} ({json.dumps(opt)}) adds no tokens after the input's "
                              f"{len(ctx_a)} (empty option and delimiter, or a tokenizer merge)")
        if len(cont_a) > max_length or len(cont_l) > max_length:
            raise EngineError(f"{at}: option {j + 1} has {max(len(cont_a), len(cont_l))} tokens, more than max_length {max_length}")
        pairs = []
        for prefix, cont in ((whole[:len(ctx_a)], cont_a), (ctx_l, cont_l)):
            keep = max_length + 1 - len(cont)  # prefix tokens that fit: len(prefix + cont) - 1 <= max_length
            pairs.append((tuple(prefix[-keep:]) if len(prefix) > keep else tuple(prefix), tuple(cont),
                          max(0, len(prefix) - keep)))
        plans.append({"adaptllm": pairs[0], "lmeval": pairs[1]})
    return plans


def score_prefix_group(model, device, autocast, prefix, conts):
    """Log-probabilities of several continuations after one shared prefix: one forward pass over
    the prefix (keeping its KV cache), then each continuation's tokens but the last on a copy of
    that cache (a forward pass appends to the cache it is given; a copy of the prefix's keys and
    values is cheap next to the pass and works for every cache class, sliding windows included).
    Returns {cont: (sum of log-probs, all tokens greedy)} with fp32 log-softmax."""
    import copy

    import torch

    out = {}
    with torch.no_grad(), autocast:
        ids = torch.tensor([list(prefix)], dtype=torch.long, device=device)
        res = model(input_ids=ids, use_cache=True, logits_to_keep=1)  # the last position's logits only
        first = torch.log_softmax(res.logits[0, -1].float(), dim=-1)
        cache = res.cache
        last_multi = max([k for k, c in enumerate(conts) if len(c) > 1], default=-1)
        for k, cont in enumerate(conts):
            lp = [float(first[cont[0]])]
            greedy = int(first.argmax()) == cont[0]
            if len(cont) > 1:
                x = torch.tensor([list(cont[:-1])], dtype=torch.long, device=device)
                c = cache if k == last_multi else copy.deepcopy(cache)
                logits = model(input_ids=x, cache=c, use_cache=True).logits[0].float()
                logp = torch.log_softmax(logits, dim=-1)
                target = torch.tensor(cont[1:], dtype=torch.long, device=device)
                lp += logp.gather(1, target[:, None])[:, 0].tolist()
                greedy = greedy and bool((logp.argmax(dim=-1) == target).all())
            out[cont] = (math.fsum(lp), greedy)
    return out


def score_choice(model, device, autocast, item, plans):
    """One choice item's event: every distinct (prefix, continuation) computed once, options
    sharing a prefix in one prefix pass."""
    groups = {}
    for p in plans:
        for key in ("adaptllm", "lmeval"):
            prefix, cont, _ = p[key]
            groups.setdefault(prefix, [])
            if cont not in groups[prefix]:
                groups[prefix].append(cont)
    results = {}
    for prefix, conts in groups.items():
        for cont, r in score_prefix_group(model, device, autocast, prefix, conts).items():
            results[(prefix, cont)] = r
    nll_mean, nll_sum, greedy = [], [], []
    for p in plans:
        pa, ca, _ = p["adaptllm"]
        pl, cl, _ = p["lmeval"]
        nll_mean.append(-results[(pa, ca)][0] / len(ca))
        ll, g = results[(pl, cl)]
        nll_sum.append(-ll)
        greedy.append(g)
    for v in nll_mean + nll_sum:
        if not math.isfinite(v):
            raise EngineError(f"{item['at']}: non-finite log-likelihood (model output NaN/inf)")
    return {"event": "item", "id": item["id"], "kind": "choice", "nll_mean": nll_mean, "nll_sum": nll_sum,
            "option_tokens": [len(p["adaptllm"][1]) for p in plans],
            "option_chars": [len(o) for o in item["options"]],
            "greedy": greedy,
            "truncated": max(max(p["adaptllm"][2], p["lmeval"][2]) for p in plans)}


def generate_greedy(model, tok, device, autocast, item, max_length, eos_ids):
    """Greedy decoding with a KV cache; stops at an EOS id, after max_new_tokens, or as soon as the
    decoded text contains a stop string (the text is cut at the earliest one, stop excluded)."""
    import torch

    ids = _encode(tok, item["input"])
    keep = max_length - item["max_new_tokens"]
    truncated = max(0, len(ids) - keep)
    ids = ids[-keep:]
    new, text = [], ""
    with torch.no_grad(), autocast:
        x = torch.tensor([ids], dtype=torch.long, device=device)
        cache = None
        for _ in range(item["max_new_tokens"]):
            res = model(input_ids=x, cache=cache, use_cache=True, logits_to_keep=1)
            cache = res.cache
            t = int(res.logits[0, -1].float().argmax())
            if t in eos_ids:
                break
            new.append(t)
            text = tok.decode(new, skip_special_tokens=True)
            cut = [text.find(s) for s in item["stop"] if s in text]
            if cut:
                text = text[:min(cut)]
                break
            x = torch.tensor([[t]], dtype=torch.long, device=device)
    return {"event": "item", "id": item["id"], "kind": "generation", "text": text, "tokens": len(new),
            "truncated": truncated}


def cmd_score(args):
    t_start = time.monotonic()
    cfg = load_score_config(os.path.abspath(args.config))

    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    torch.set_num_threads(cfg["threads"])

    check_model_dir(cfg["base"])
    try:
        mconf = AutoConfig.from_pretrained(cfg["base"])
    except Exception as e:
        raise EngineError(f"base {cfg['base']}: cannot load config.json ({type(e).__name__}: {e})")
    max_pos = getattr(mconf, "max_position_embeddings", None)
    if _is_int(max_pos) and cfg["max_length"] > max_pos:
        raise EngineError(f"config {args.config}: max_length {cfg['max_length']} exceeds the base's max_position_embeddings {max_pos}")
    if cfg["adapter"]:
        for n in ("adapter_config.json", "adapter_model.safetensors"):
            if not os.path.isfile(os.path.join(cfg["adapter"], n)):
                raise EngineError(f"adapter {cfg['adapter']}: missing {n}")
    if cfg["dtype"] == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise EngineError(f"dtype bf16 is not supported by {torch.cuda.get_device_name(device)}: use fp32")
    items = load_items(cfg["items"], cfg["max_length"])
    try:
        tok = AutoTokenizer.from_pretrained(cfg["base"])
    except Exception as e:
        raise EngineError(f"base {cfg['base']}: cannot load the tokenizer, which scoring needs ({type(e).__name__}: {e})")
    plans = {}
    for item in items:  # tokenization problems are reported before the model loads
        if item["kind"] == "choice":
            plans[item["id"]] = plan_choice(tok, item, cfg["max_length"])

    t_load = time.monotonic()
    try:
        model = AutoModelForCausalLM.from_pretrained(cfg["base"], dtype=torch.float32)
    except Exception as e:
        raise EngineError(f"base {cfg['base']}: cannot load the model ({type(e).__name__}: {e})")
    model.to(device)
    if cfg["adapter"]:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, cfg["adapter"])
        except Exception as e:
            raise EngineError(f"adapter {cfg['adapter']}: cannot load ({type(e).__name__}: {e})")
        # W + scale * B @ A once, instead of the LoRA branch in every forward pass.
        model = model.merge_and_unload()
    model.eval()
    log(f"loaded {type(model).__name__} from {cfg['base']}{' + ' + cfg['adapter'] if cfg['adapter'] else ''} "
        f"in {time.monotonic() - t_load:.1f}s")
    eos_ids = set()
    for src in (getattr(model, "generation_config", None), mconf, tok):
        v = getattr(src, "eos_token_id", None) if src is not None else None
        for e in (v if isinstance(v, (list, tuple)) else [v]):
            if _is_int(e):
                eos_ids.add(e)
    autocast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16)
                if cfg["dtype"] == "bf16" else _nullcontext())

    n_choice = sum(1 for i in items if i["kind"] == "choice")
    emit({"event": "ready", "protocol": PROTOCOL_VERSION, "items": len(items), "choice_items": n_choice,
          "generation_items": len(items) - n_choice,
          "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": _peft_version()},
          "device": device.type, "dtype": cfg["dtype"], "world_size": 1})
    t_ready = time.monotonic()
    for item in items:
        if item["kind"] == "choice":
            emit(score_choice(model, device, autocast, item, plans[item["id"]]))
        else:
            emit(generate_greedy(model, tok, device, autocast, item, cfg["max_length"], eos_ids))
    now = time.monotonic()
    emit({"event": "done", "items": len(items), "seconds": now - t_start, "scoring_seconds": now - t_ready})


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def build_parser():
    p = _Parser(prog="lectern_train", description="Lectern's training engine (protocol: trainer/README.md)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train from a JSON config, printing JSON events on stdout")
    t.add_argument("--config", required=True)
    t.set_defaults(func=cmd_train)
    c = sub.add_parser("convert-gguf", help="convert a GGUF model to an fp32 safetensors folder")
    c.add_argument("gguf")
    c.add_argument("outdir")
    c.set_defaults(func=cmd_convert)
    r = sub.add_parser("probe", help="logits fingerprint of a model (+ adapter)")
    r.add_argument("--base", required=True)
    r.add_argument("--adapter")
    r.add_argument("--input-ids", required=True, help="comma-separated token ids")
    r.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    r.set_defaults(func=cmd_probe)
    s = sub.add_parser("score", help="score multiple-choice / generation items, printing JSON events")
    s.add_argument("--config", required=True)
    s.set_defaults(func=cmd_score)
    m = sub.add_parser("tiny-model", help="random small LLaMA with a real tokenizer, for tests")
    m.add_argument("outdir")
    m.add_argument("--tokenizer-from", required=True, help="model folder or .gguf file")
    m.add_argument("--hidden", type=int, default=64)
    m.add_argument("--layers", type=int, default=2)
    m.add_argument("--heads", type=int, default=4)
    m.add_argument("--kv-heads", type=int, default=2)
    m.add_argument("--intermediate", type=int, default=128)
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(func=cmd_tiny)
    return p


def _watch_parent():
    """Ends this process when Lectern (LECTERN_PARENT_PID) is gone: a `kill -9` of `lectern train`
    must not leave an engine training on, or holding the CPU, with nobody reading its events. Under
    torchrun the direct parent is torchrun, so the pid to watch is passed explicitly."""
    import threading

    try:
        pid = int(os.environ.get("LECTERN_PARENT_PID", "0") or 0)
    except ValueError:
        return
    if pid <= 1:
        return

    def watch():
        while True:
            time.sleep(1.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(137)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="lectern-parent-watch", daemon=True).start()


def main(argv=None):
    global _COMMAND, _RANK
    argv = sys.argv[1:] if argv is None else argv
    _COMMAND = argv[0] if argv else None
    _RANK = int(os.environ.get("RANK", "0") or 0)
    _claim_stdout()
    _watch_parent()
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except EngineError as e:
        fail(e)
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except MemoryError:
        fail("out of memory")
    except Exception as e:  # a bug or an environment problem: traceback for humans, then one line
        traceback.print_exc()
        fail(f"internal error: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
