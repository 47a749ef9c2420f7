#!/usr/bin/python3
"""Time PyTorch on the model and step tsgpt's `bench` times, on this machine: the yardstick for
`tsgpt bench` (run by hand, never in CI: CI has no PyTorch).

    /usr/bin/python3 bench/torch_step.py --preset baby [--steps 20] [--threads 2] [--json]

Builds nanoGPT's architecture for the `baby` preset (GELU, fused qkv, tied lm_head, no bias) or the
lecture's gpt.py for `lecture`, then times training steps on random tokens (forward, backward, gradient
clipping, AdamW) after warm-up steps, and sampling as nanoGPT's generate does it (no KV cache: the whole
cropped context each token). Debian's python3-torch calls whatever libblas.so.3 the system selects: install
Debian's libopenblas0-pthread for OpenBLAS, or PyTorch runs on the slow reference BLAS.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    # name: (n_layer, n_head, n_embd, block_size, batch_size, dropout, bias, style)
    "baby": (4, 4, 128, 64, 12, 0.0, False, "nanogpt"),
    "lecture": (6, 6, 384, 256, 64, 0.2, True, "lecture"),
}
VOCAB = 65


class Attention(nn.Module):
    def __init__(self, c, nh, bias, dropout):
        super().__init__()
        self.nh = nh
        self.c_attn = nn.Linear(c, 3 * c, bias=bias)
        self.c_proj = nn.Linear(c, c, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.nh)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        att = self.drop(att.masked_fill(~mask, float("-inf")).softmax(dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.drop(self.c_proj(y))


class Block(nn.Module):
    def __init__(self, c, nh, bias, dropout, act):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c, elementwise_affine=True)
        self.attn = Attention(c, nh, bias, dropout)
        self.ln_2 = nn.LayerNorm(c, elementwise_affine=True)
        self.mlp = nn.Sequential(nn.Linear(c, 4 * c, bias=bias), act, nn.Linear(4 * c, c, bias=bias), nn.Dropout(dropout))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, n_layer, n_head, n_embd, block_size, dropout, bias, style):
        super().__init__()
        act = nn.GELU(approximate="tanh") if style == "nanogpt" else nn.ReLU()
        self.block_size = block_size
        self.wte = nn.Embedding(VOCAB, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList(Block(n_embd, n_head, bias, dropout, act) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, VOCAB, bias=style != "nanogpt")
        if style == "nanogpt":
            self.lm_head.weight = self.wte.weight

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))
        return logits, loss


def train_step(model, opt, data, B, T):
    """One training step on B random windows of T tokens of data: forward, backward, clipping at 1.0, the update."""
    ix = torch.randint(len(data) - T, (B,))
    x = torch.stack([data[i:i + T] for i in ix])
    y = torch.stack([data[i + 1:i + T + 1] for i in ix])
    _, loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def blas_threads():
    """Threads of the OpenBLAS PyTorch has loaded (its matrix products run there, apart from PyTorch's own
    intra-op threads), or None when no OpenBLAS is loaded."""
    import ctypes
    try:
        with open("/proc/self/maps") as maps:  # Linux: the libraries this process has loaded
            libraries = {line.split()[-1] for line in maps if "libopenblas" in line}
    except OSError:
        return None
    for path in sorted(libraries):
        try:
            return ctypes.CDLL(path).openblas_get_num_threads()
        except (OSError, AttributeError):
            continue
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", choices=sorted(PRESETS), default="baby")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch's intra-op threads (default: torch's own; OpenBLAS keeps its own threads either way)")
    ap.add_argument("--sample-tokens", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n_layer, n_head, n_embd, T, B, dropout, bias, style = PRESETS[args.preset]
    steps = args.steps or (20 if args.preset == "baby" else 2)
    torch.manual_seed(1337)
    model = GPT(n_layer, n_head, n_embd, T, dropout, bias, style)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    data = torch.randint(VOCAB, (200_000,))

    def step():
        train_step(model, opt, data, B, T)

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    ms = (time.perf_counter() - t0) / steps * 1000

    model.eval()

    def sample_rate(tokens):
        """nanoGPT's generate: no cache, the whole (cropped) context through the model for every token."""
        with torch.no_grad():
            idx = torch.zeros((1, 1), dtype=torch.long)
            t0 = time.perf_counter()
            for _ in range(tokens):
                logits, _ = model(idx[:, -T:])
                logits = logits[:, -1, :] / 0.8
                v, _ = torch.topk(logits, min(200, VOCAB))
                logits[logits < v[:, [-1]]] = -float("inf")
                idx = torch.cat((idx, torch.multinomial(F.softmax(logits, dim=-1), 1)), dim=1)
            return tokens / (time.perf_counter() - t0)

    sample_rate(20)  # warm-up
    rate = sample_rate(args.sample_tokens)
    block_rate = sample_rate(T - 1)

    result = {
        "preset": args.preset, "framework": f"torch {torch.__version__}", "threads": torch.get_num_threads(),
        "blas_threads": blas_threads(),
        "steps": steps, "ms_per_step": ms, "tokens_per_s": B * T / ms * 1000,
        "sample_tokens": args.sample_tokens, "sample_tokens_per_s_uncached": rate,
        "sample_block_tokens_per_s_uncached": block_rate,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"torch {torch.__version__}, {result['threads']} intra-op threads, OpenBLAS on {result['blas_threads']}, "
              f"preset {args.preset}: "
              f"{ms:.1f} ms/step, {result['tokens_per_s']:.0f} tokens/s; sampling {rate:.0f} tokens/s (no cache), "
              f"{block_rate:.0f} within the context")


if __name__ == "__main__":
    main()
