#!/usr/bin/env python3
"""Direct-PEFT reference for the training benchmark: the plainest training loop that does the same
maths as Lectern's engine (trainer/lectern_train.py, contract in trainer/README.md), so the engine
(and Lectern around it) can be compared with "just PEFT".

    $LECTERN_TRAIN_PYTHON benchmarks/train/peft_loop.py --config CONFIG.json [--examples X.jsonl]

CONFIG.json is exactly what Lectern hands the engine (`train --config`); its `examples` JSONL is
read the same way (`input_ids`/`loss_mask` lines; `messages` lines are tokenized with the engine's
own ChatTokenizer, imported from trainer/, since that is data preparation, not the loop under test).
What it does, as the engine: seeds (python, numpy, torch) = config seed before the model loads;
fp32 base via AutoModelForCausalLM; LoRA via get_peft_model(LoraConfig(r, alpha, dropout,
target_modules, bias="none", task_type="CAUSAL_LM")) (method "full": every parameter trainable);
AdamW without decay on 1-D parameters; transformers.get_scheduler; data order per epoch
torch.randperm seeded from sha256("lectern:{seed}:{epoch}"); batch_size x grad_accum examples per
step, right-padded micro-batches; summed token NLL / targets of the whole step; clip_grad_norm_;
optional bf16 autocast and gradient checkpointing. What it leaves out: checkpoints, events, probe,
resume, torchrun, input validation.

stdout: one JSON line {"steps", "tokens", "seconds", "tokens_per_second"}; per-step losses go to
stderr as {"step", "loss", "grad_norm", "learning_rate", "tokens", "seconds"} lines.
"""

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULTS = {
    "method": "lora", "lora": None, "learning_rate": 1e-4, "scheduler": "linear", "warmup_steps": 0,
    "epochs": 1, "max_steps": None, "batch_size": 1, "grad_accum": 1, "weight_decay": 0.0,
    "max_grad_norm": 1.0, "seed": 0, "threads": 1, "gradient_checkpointing": False,
    "dtype": "fp32", "load_in_8bit": False, "loss": "all",
}
LORA_DEFAULTS = {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "all-linear"}
PRESETS = {"attention": ["q_proj", "k_proj", "v_proj", "o_proj"], "qv": ["q_proj", "v_proj"]}


def read_examples(path, base, loss_mode):
    import numpy as np

    chat = None
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            obj = json.loads(line)
            if "messages" in obj:
                if chat is None:
                    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "trainer"))
                    from lectern_train import ChatTokenizer

                    chat = ChatTokenizer(base)
                ids, mask = chat.encode(obj["messages"], f"{path} line {lineno}")
            else:
                ids, mask = obj["input_ids"], obj.get("loss_mask")
            target = np.ones(len(ids), dtype=bool)
            if loss_mode == "masked" and mask is not None:
                target = np.asarray(mask, dtype=bool)
            target[0] = False
            out.append((np.asarray(ids, dtype=np.int64), target))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="the engine's train config JSON")
    ap.add_argument("--examples", help="override the config's examples path")
    args = ap.parse_args()
    with open(args.config, encoding="utf-8") as f:
        raw = json.load(f)
    cfg = {**DEFAULTS, **{k: v for k, v in raw.items() if k in DEFAULTS}}
    lc = {**LORA_DEFAULTS, **(raw.get("lora") or {})}
    base = raw["base"]
    examples_path = args.examples or raw["examples"]
    if raw.get("resume"):
        sys.exit("peft_loop: resume is not supported (the reference always starts fresh)")

    import numpy as np
    import torch
    import torch.nn.functional as F
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, get_scheduler

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(cfg["threads"])
    examples = read_examples(examples_path, base, cfg["loss"])

    random.seed(cfg["seed"])
    np.random.seed(cfg["seed"] % (1 << 32))
    torch.manual_seed(cfg["seed"])

    kwargs = {"dtype": torch.float32}
    if cfg["load_in_8bit"]:
        from transformers import BitsAndBytesConfig

        kwargs.update(quantization_config=BitsAndBytesConfig(load_in_8bit=True), device_map={"": device})
    model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    if not cfg["load_in_8bit"]:
        model.to(device)
    model.config.use_cache = False
    if cfg["gradient_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if cfg["method"] == "lora":
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        tm = lc["target_modules"]
        tm = tm if tm == "all-linear" else list(PRESETS.get(tm, tm) if isinstance(tm, str) else tm)
        if cfg["load_in_8bit"]:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg["gradient_checkpointing"])
        model = get_peft_model(model, LoraConfig(r=lc["r"], lora_alpha=lc["alpha"], lora_dropout=lc["dropout"],
                                                 target_modules=tm, bias="none", task_type="CAUSAL_LM"))
    else:
        for p in model.parameters():
            p.requires_grad_(True)
    model.train()

    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg["weight_decay"]}]
    if any(p.ndim < 2 for p in params):
        groups.append({"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=cfg["learning_rate"])
    per_step = cfg["batch_size"] * cfg["grad_accum"]
    steps_per_epoch = math.ceil(len(examples) / per_step)
    total = cfg["max_steps"] if cfg["max_steps"] is not None else cfg["epochs"] * steps_per_epoch
    sched = cfg["scheduler"]
    if sched == "constant" and cfg["warmup_steps"] > 0:
        sched = "constant_with_warmup"
    scheduler = get_scheduler(sched, optimizer, num_warmup_steps=cfg["warmup_steps"], num_training_steps=total)

    pad_id = None
    try:
        tok = AutoTokenizer.from_pretrained(base)
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    except Exception:
        pass
    if pad_id is None:
        mc = AutoConfig.from_pretrained(base)
        pad_id = next((v[0] if isinstance(v, list) else v for v in (getattr(mc, "pad_token_id", None),
                       getattr(mc, "eos_token_id", None)) if v is not None), 0)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16) if cfg["dtype"] == "bf16" else None

    def epoch_perm(epoch):
        digest = hashlib.sha256(f"lectern:{cfg['seed']}:{epoch}".encode()).digest()
        g = torch.Generator()
        g.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
        return torch.randperm(len(examples), generator=g).tolist()

    def collate(idx):
        length = max(len(examples[i][0]) for i in idx)
        ids = torch.full((len(idx), length), pad_id, dtype=torch.long)
        att = torch.zeros((len(idx), length), dtype=torch.long)
        labels = torch.full((len(idx), length), -100, dtype=torch.long)
        for row, i in enumerate(idx):
            x, target = examples[i]
            t = torch.from_numpy(x)
            ids[row, :len(x)] = t
            att[row, :len(x)] = 1
            labels[row, :len(x)] = torch.where(torch.from_numpy(target), t, torch.tensor(-100))
        return ids, att, labels

    # Timing covers optimizer steps 2..N only: model load, adapter set-up and step 1 (first-call
    # warm-up: allocator growth, kernel selection, lazy initialisation) are excluded, so the number
    # is steady-state training throughput. With max_steps 1 it falls back to timing step 1.
    perm, perm_epoch = None, None
    timed_tokens, timed_seconds = 0, 0.0
    for step in range(1, total + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        epoch, slot = divmod(step - 1, steps_per_epoch)
        if perm_epoch != epoch:
            perm, perm_epoch = epoch_perm(epoch), epoch
        idx = perm[slot * per_step:(slot + 1) * per_step]
        micro = [collate(idx[i:i + cfg["batch_size"]]) for i in range(0, len(idx), cfg["batch_size"])]
        targets = sum(int((lab[:, 1:] != -100).sum()) for _, _, lab in micro)
        tokens = sum(int(att.sum()) for _, att, _ in micro)
        loss_sum = 0.0
        for ids, att, labels in micro:
            ids, att, labels = ids.to(device), att.to(device), labels.to(device)
            if autocast is not None:
                with autocast:
                    logits = model(input_ids=ids, attention_mask=att, use_cache=False).logits
            else:
                logits = model(input_ids=ids, attention_mask=att, use_cache=False).logits
            nll = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                  labels[:, 1:].reshape(-1), ignore_index=-100, reduction="sum")
            (nll / targets).backward()
            loss_sum += float(nll.detach())
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg["max_grad_norm"] or float("inf")))
        lr = float(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        if step >= 2 or total == 1:
            timed_tokens += tokens
            timed_seconds += dt
        print(json.dumps({"step": step, "loss": loss_sum / targets, "grad_norm": grad_norm,
                          "learning_rate": lr, "tokens": tokens, "seconds": dt}), file=sys.stderr, flush=True)

    print(json.dumps({"steps": total, "tokens": timed_tokens,
                      "seconds": timed_seconds,
                      "tokens_per_second": timed_tokens / timed_seconds if timed_seconds > 0 else 0.0}), flush=True)


if __name__ == "__main__":
    main()
