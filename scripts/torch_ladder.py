#!/usr/bin/python3
"""Train the "Let's build GPT" lecture ladder in PyTorch, as a reference for tsgpt.

Run by hand, never in CI (it needs Debian's PyTorch, python3-torch 1.13):

    /usr/bin/python3 scripts/torch_ladder.py                       # stages 1-6, table
    /usr/bin/python3 scripts/torch_ladder.py --json                # one JSON object per stage
    /usr/bin/python3 scripts/torch_ladder.py --max-iters 50        # smoke run
    /usr/bin/python3 scripts/torch_ladder.py --stages bigram,layer_norm
    /usr/bin/python3 scripts/torch_ladder.py --with-lecture        # + the full gpt.py (hours on a CPU)

Each stage is trained on Tiny Shakespeare with the lecture's settings (character
vocabulary, 90/10 train/val split, random windows, AdamW with a constant learning
rate, evaluation every 500 steps and after the last step over 200 random batches
per split) and the final train/val losses, parameter counts and wall times are
reported. Progress goes to stderr; the table to stdout (to stderr with --json,
whose JSON lines own stdout).
Runs single-threaded so timings are comparable with tsgpt's CPU engine.
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

DEFAULT_DATA = "/work/shared/data/tinyshakespeare.txt"

# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


class CharData:
    def __init__(self, path):
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
        self.chars = sorted(set(text))
        self.vocab_size = len(self.chars)
        index = {c: i for i, c in enumerate(self.chars)}
        ids = torch.tensor([index[c] for c in text], dtype=torch.long)
        cut = int(0.9 * len(ids))
        self.splits = {"train": ids[:cut], "val": ids[cut:]}
        self.n_chars = len(text)

    def batch(self, split, batch_size, block_size):
        data = self.splits[split]
        ix = torch.randint(len(data) - block_size, (batch_size,))
        x = torch.stack([data[i : i + block_size] for i in ix])
        y = torch.stack([data[i + 1 : i + block_size + 1] for i in ix])
        return x, y


# ---------------------------------------------------------------------------
# model pieces
# ---------------------------------------------------------------------------


class SelfAttentionHead(nn.Module):
    """One causal self-attention head (no bias on key/query/value)."""

    def __init__(self, n_embd, head_size, block_size, dropout=0.0):
        super().__init__()
        self.key = nn.Linear(n_embd, head_size, bias=False)
        self.query = nn.Linear(n_embd, head_size, bias=False)
        self.value = nn.Linear(n_embd, head_size, bias=False)
        self.register_buffer("causal", torch.tril(torch.ones(block_size, block_size)))
        self.scale = head_size ** -0.5
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        T = x.shape[1]
        q = self.query(x)
        k = self.key(x)
        v = self.value(x)
        att = (q @ k.transpose(-2, -1)) * self.scale
        att = att.masked_fill(self.causal[:T, :T] == 0, float("-inf"))
        att = self.drop(F.softmax(att, dim=-1))
        return att @ v


class MultiHead(nn.Module):
    """Several heads concatenated on the channel dim; optional output projection."""

    def __init__(self, n_embd, n_head, head_size, block_size, proj, dropout=0.0):
        super().__init__()
        self.heads = nn.ModuleList(
            [SelfAttentionHead(n_embd, head_size, block_size, dropout) for _ in range(n_head)]
        )
        self.proj = nn.Linear(n_head * head_size, n_embd) if proj else None
        self.drop = nn.Dropout(dropout) if (proj and dropout > 0) else nn.Identity()

    def forward(self, x):
        out = torch.cat([h(x) for h in self.heads], dim=-1)
        if self.proj is not None:
            out = self.drop(self.proj(out))
        return out


def mlp(n_embd, dropout=0.0):
    layers = [nn.Linear(n_embd, 4 * n_embd), nn.ReLU(), nn.Linear(4 * n_embd, n_embd)]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class Block(nn.Module):
    """Residual transformer block; pre-norm LayerNorms when layer_norm is True."""

    def __init__(self, n_embd, n_head, block_size, layer_norm, dropout=0.0):
        super().__init__()
        hs = n_embd // n_head
        self.sa = MultiHead(n_embd, n_head, hs, block_size, proj=True, dropout=dropout)
        self.ffwd = mlp(n_embd, dropout)
        self.ln1 = nn.LayerNorm(n_embd) if layer_norm else nn.Identity()
        self.ln2 = nn.LayerNorm(n_embd) if layer_norm else nn.Identity()

    def forward(self, x):
        x = x + self.sa(self.ln1(x))
        x = x + self.ffwd(self.ln2(x))
        return x


# ---------------------------------------------------------------------------
# the ladder's models
# ---------------------------------------------------------------------------


class Bigram(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx):
        return self.token_embedding_table(idx)


class LadderGPT(nn.Module):
    """Token + position embeddings, a body (stage dependent), optional ln_f, lm_head."""

    def __init__(self, vocab_size, block_size, n_embd, body, final_ln=False):
        super().__init__()
        self.token_embedding_table = nn.Embedding(vocab_size, n_embd)
        self.position_embedding_table = nn.Embedding(block_size, n_embd)
        self.body = body
        self.ln_f = nn.LayerNorm(n_embd) if final_ln else nn.Identity()
        self.lm_head = nn.Linear(n_embd, vocab_size)

    def forward(self, idx):
        T = idx.shape[1]
        tok = self.token_embedding_table(idx)
        pos = self.position_embedding_table(torch.arange(T, device=idx.device))
        x = self.body(tok + pos)
        return self.lm_head(self.ln_f(x))


def lecture_init(module):
    # the lecture's gpt.py: N(0, 0.02) weights for Linear and Embedding, zero biases
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)


# Small-stage settings (lecture v2 at these stages).
SMALL = dict(batch_size=32, block_size=8, n_embd=32, eval_interval=500, eval_iters=200)


def build_bigram(V, c):
    return Bigram(V)


def build_one_head(V, c):
    E, B = c["n_embd"], c["block_size"]
    return LadderGPT(V, B, E, SelfAttentionHead(E, E, B))


def build_four_heads(V, c):
    E, B = c["n_embd"], c["block_size"]
    return LadderGPT(V, B, E, MultiHead(E, 4, E // 4, B, proj=False))


def build_feed_forward(V, c):
    E, B = c["n_embd"], c["block_size"]
    body = nn.Sequential(
        MultiHead(E, 4, E // 4, B, proj=False),
        nn.Sequential(nn.Linear(E, E), nn.ReLU()),
    )
    return LadderGPT(V, B, E, body)


def build_residual_blocks(V, c):
    E, B = c["n_embd"], c["block_size"]
    body = nn.Sequential(*[Block(E, 4, B, layer_norm=False) for _ in range(3)])
    return LadderGPT(V, B, E, body)


def build_layer_norm(V, c):
    E, B = c["n_embd"], c["block_size"]
    body = nn.Sequential(*[Block(E, 4, B, layer_norm=True) for _ in range(3)])
    return LadderGPT(V, B, E, body, final_ln=True)


def build_lecture(V, c):
    E, B, d = c["n_embd"], c["block_size"], c["dropout"]
    body = nn.Sequential(
        *[Block(E, c["n_head"], B, layer_norm=True, dropout=d) for _ in range(c["n_layer"])]
    )
    model = LadderGPT(V, B, E, body, final_ln=True)
    model.apply(lecture_init)
    return model


STAGES = [
    ("bigram", "token -> next-token logits table", build_bigram, dict(SMALL, lr=1e-2, max_iters=3000)),
    ("one_head", "tok+pos emb, 1 self-attn head (hs 32), lm_head", build_one_head, dict(SMALL, lr=1e-3, max_iters=5000)),
    ("four_heads", "4 heads of 8, concat (no proj)", build_four_heads, dict(SMALL, lr=1e-3, max_iters=5000)),
    ("feed_forward", "+ Linear(32,32)+ReLU after attn", build_feed_forward, dict(SMALL, lr=1e-3, max_iters=5000)),
    ("residual_blocks", "3 residual blocks (MHA+proj, FFN 4x), no LN", build_residual_blocks, dict(SMALL, lr=1e-3, max_iters=5000)),
    ("layer_norm", "+ pre-norm LayerNorms and ln_f", build_layer_norm, dict(SMALL, lr=1e-3, max_iters=5000)),
    ("lecture", "gpt.py: 6x6x384, block 256, dropout 0.2", build_lecture,
     dict(batch_size=64, block_size=256, n_embd=384, n_head=6, n_layer=6, dropout=0.2,
          lr=3e-4, max_iters=5000, eval_interval=500, eval_iters=200)),
]
STAGE_NAMES = [s[0] for s in STAGES]


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


@torch.no_grad()
def estimate_loss(model, data, cfg, eval_iters):
    model.eval()
    out = {}
    for split in ("train", "val"):
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            x, y = data.batch(split, cfg["batch_size"], cfg["block_size"])
            logits = model(x)
            losses[k] = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1)).item()
        out[split] = losses.mean().item()
    model.train()
    return out


def make_optimizer(model, lr, decay):
    # "all": the lecture's torch.optim.AdamW(model.parameters()), weight decay 0.01 on every parameter.
    # "2d": tsgpt's (and nanoGPT's) groups, the same 0.01 on parameters of two or more dimensions only.
    if decay == "all":
        return torch.optim.AdamW(model.parameters(), lr=lr)
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.01},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr)


def run_stage(name, build, cfg, data, seed, max_iters, eval_iters, log, decay="all"):
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    model = build(data.vocab_size, cfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = make_optimizer(model, cfg["lr"], decay)
    eval_seconds = 0.0
    losses = None
    for it in range(max_iters):
        if it % cfg["eval_interval"] == 0:
            te = time.perf_counter()
            losses = estimate_loss(model, data, cfg, eval_iters)
            eval_seconds += time.perf_counter() - te
            log("  %-16s step %5d: train %.4f, val %.4f  (%.1fs)"
                % (name, it, losses["train"], losses["val"], time.perf_counter() - t0))
        x, y = data.batch("train", cfg["batch_size"], cfg["block_size"])
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    te = time.perf_counter()
    losses = estimate_loss(model, data, cfg, eval_iters)
    eval_seconds += time.perf_counter() - te
    seconds = time.perf_counter() - t0
    log("  %-16s step %5d: train %.4f, val %.4f  (%.1fs)  [final]"
        % (name, max_iters, losses["train"], losses["val"], seconds))
    return {
        "stage": name,
        "params": n_params,
        "train_loss": round(losses["train"], 4),
        "val_loss": round(losses["val"], 4),
        "seconds": round(seconds, 2),
        "eval_seconds": round(eval_seconds, 2),
        "iters": max_iters,
        "lr": cfg["lr"],
        "batch_size": cfg["batch_size"],
        "block_size": cfg["block_size"],
        "seed": seed,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="text file (default: %(default)s)")
    ap.add_argument("--stages", default=None,
                    help="comma-separated subset of: " + ",".join(STAGE_NAMES))
    ap.add_argument("--max-iters", type=int, default=None,
                    help="cap every stage's step count (smoke run)")
    ap.add_argument("--eval-iters", type=int, default=200,
                    help="batches per split in each evaluation (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--decay", choices=["all", "2d"], default="all",
                    help="weight decay on every parameter (the lecture) or on 2-D ones only (tsgpt, nanoGPT)")
    ap.add_argument("--with-lecture", action="store_true",
                    help="also run the full lecture gpt.py model (hours on a CPU)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per stage")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)

    if args.stages:
        wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in STAGE_NAMES]
        if unknown:
            ap.error("unknown stage(s): %s (known: %s)" % (",".join(unknown), ",".join(STAGE_NAMES)))
        if "lecture" in wanted and not args.with_lecture:
            ap.error("the lecture stage takes hours (days with reference BLAS) on a CPU; pass --with-lecture to run it")
    else:
        wanted = [n for n in STAGE_NAMES if n != "lecture" or args.with_lecture]
    if args.with_lecture and "lecture" not in wanted:
        wanted.append("lecture")
    stages = [s for s in STAGES if s[0] in wanted]

    def log(msg):
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    data = CharData(args.data)
    log("data %s: %d chars, vocab %d, train %d, val %d; torch %s, %d thread(s), seed %d"
        % (args.data, data.n_chars, data.vocab_size, len(data.splits["train"]),
           len(data.splits["val"]), torch.__version__, torch.get_num_threads(), args.seed))

    results = []
    t_all = time.perf_counter()
    for name, what, build, cfg in stages:
        iters = cfg["max_iters"] if args.max_iters is None else min(args.max_iters, cfg["max_iters"])
        r = run_stage(name, build, cfg, data, args.seed, iters, args.eval_iters, log, args.decay)
        r["adds"] = what
        results.append(r)
        if args.json:
            print(json.dumps(r), flush=True)
    total = time.perf_counter() - t_all

    # The table goes to stdout, or to stderr when --json owns stdout.
    table_out = sys.stderr if args.json else sys.stdout
    if not (args.json and args.quiet):
        head = ("stage", "adds", "params", "iters", "train", "val", "seconds")
        rows = [(r["stage"], r["adds"], str(r["params"]), str(r["iters"]),
                 "%.4f" % r["train_loss"], "%.4f" % r["val_loss"], "%.1f" % r["seconds"])
                for r in results]
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
        right = {2, 3, 4, 5, 6}

        def fmt(row):
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(row, widths)))

        print(fmt(head), file=table_out)
        print("  ".join("-" * w for w in widths), file=table_out)
        for row in rows:
            print(fmt(row), file=table_out)
        print("total %.1f s (torch %s, %d thread, seed %d, eval_iters %d)"
              % (total, torch.__version__, torch.get_num_threads(), args.seed, args.eval_iters),
              file=table_out)


if __name__ == "__main__":
    main()
