#!/usr/bin/python3
"""PyTorch's side of bench/gpt2_speed.ts: GPT-2 124M (random weights) in nanoGPT's own model.py, timed on this
machine (run by hand, never in CI; node dist/bench/gpt2_speed.js runs it after tsgpt's measurements).

    /usr/bin/python3 bench/torch_gpt2.py --nanogpt DIR [--new-tokens 128] [--uncached-tokens 32] [--steps 3] [--json]
                                         [--n-layer 12]

--nanogpt is a checkout of nanoGPT outside this repository (its model.py is imported from there, never copied):
    mkdir /tmp/nanogpt && git --git-dir=<nanoGPT clone>/.git archive HEAD | tar -x -C /tmp/nanogpt

It measures, one after the other in this process:
  sampling   tokens/s of `--new-tokens` new tokens after an 8-token prompt, temperature 1, no top-k:
             (1) with a key/value cache: a loop written here over nanoGPT's modules (each block's ln_1, c_attn,
                 the cached keys and values, c_proj, ln_2 and mlp; past key values kept as Hugging Face's GPT-2
                 keeps them, concatenated a position at a time), so a new token costs one position's work, as
                 tsgpt's decoder does;
             (2) nanoGPT's own GPT.generate, which has no cache and runs the whole context for every token
                 (`--uncached-tokens` of them, fewer, as each costs the prompt and all tokens so far);
  training   ms per step: batch 4, context 64, forward, backward, gradient clipping at 1.0 and AdamW from
             nanoGPT's configure_optimizers, after a warm-up step;
  bandwidth  GB/s of numpy summing a 256 MB float64 array (one thread), best of 5;
  memory     the peak resident set (resource.getrusage's ru_maxrss) after sampling and after training.
Debian's python3-torch calls the libblas.so.3 the system selects: install libopenblas0-pthread for OpenBLAS.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch

PROMPT = 8
B, T = 4, 64


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


def bandwidth_gbs():
    a = np.ones(32 * 1024 * 1024, dtype=np.float64)  # 256 MB
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        a.sum()
        best = min(best, time.perf_counter() - t0)
    return a.nbytes / best / 1e9


def cached_generate(model, idx, new_tokens):
    """Sampling with past keys and values: the prompt once, then one position per new token. Returns the
    sequence and the logits of the token after it."""
    tr, cfg = model.transformer, model.config
    C, nh = cfg.n_embd, cfg.n_head
    hs = C // nh
    past = [None] * cfg.n_layer

    def forward(ids, start):
        n = ids.shape[1]
        x = tr.wte(ids) + tr.wpe(torch.arange(start, start + n))
        for i, block in enumerate(tr.h):
            q, k, v = block.attn.c_attn(block.ln_1(x)).split(C, dim=2)
            q, k, v = (t.view(1, n, nh, hs).transpose(1, 2) for t in (q, k, v))
            if past[i] is not None:
                k, v = torch.cat((past[i][0], k), dim=2), torch.cat((past[i][1], v), dim=2)
            past[i] = (k, v)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
            if n > 1:  # the prompt: causal within it
                att = att.masked_fill(torch.ones(n, n, dtype=torch.bool).tril().logical_not(), float('-inf'))
            y = (att.softmax(dim=-1) @ v).transpose(1, 2).contiguous().view(1, n, C)
            x = x + block.attn.c_proj(y)
            x = x + block.mlp(block.ln_2(x))
        return model.lm_head(tr.ln_f(x[:, -1:, :]))[:, -1, :]

    with torch.no_grad():
        logits = forward(idx, 0)
        for _ in range(new_tokens):
            nxt = torch.multinomial(logits.softmax(dim=-1), 1)
            idx = torch.cat((idx, nxt), dim=1)
            logits = forward(nxt, idx.shape[1] - 1)
    return idx, logits


def rate(fn, tokens):
    t0 = time.perf_counter()
    fn(tokens)
    return tokens / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nanogpt', required=True, help='a checkout of nanoGPT (outside this repository)')
    ap.add_argument('--new-tokens', type=int, default=128)
    ap.add_argument('--uncached-tokens', type=int, default=32)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--n-layer', type=int, default=12, help='fewer layers for a quick check of the script, not a measurement')
    ap.add_argument('--json', action='store_true')
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.nanogpt))
    from model import GPT, GPTConfig  # nanoGPT's model.py
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_step import blas_threads, train_step

    torch.manual_seed(1337)
    model = GPT(GPTConfig(n_layer=args.n_layer, n_head=12, n_embd=768, block_size=1024, vocab_size=50257, bias=True, dropout=0.0))
    params = sum(p.numel() for p in model.parameters())
    model.eval()
    prompt = torch.randint(50257, (1, PROMPT))
    # Warm-up, and a check that the cached loop computes what nanoGPT's forward does.
    idx, logits = cached_generate(model, prompt, 4)
    with torch.no_grad():
        full = model(idx)[0][:, -1, :]
    assert torch.allclose(logits, full, atol=1e-4), float((logits - full).abs().max())
    cached = max(rate(lambda n: cached_generate(model, prompt, n), args.new_tokens) for _ in range(2))
    with torch.no_grad():
        uncached = rate(lambda n: model.generate(prompt, n, temperature=1.0), args.uncached_tokens)
    rss_sampling = peak_rss_mb()

    model.train()
    optimizer = model.configure_optimizers(0.1, 6e-4, (0.9, 0.95), 'cpu')
    data = torch.randint(50257, (100_000,))

    def step():
        train_step(model, optimizer, data, B, T)

    step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    result = {
        'framework': f'torch {torch.__version__}', 'threads': torch.get_num_threads(), 'blas_threads': blas_threads(),
        'parameters': params,
        'sample_new_tokens': args.new_tokens, 'sample_tokens_per_s_cached': cached,
        'sample_uncached_tokens': args.uncached_tokens, 'sample_tokens_per_s_uncached': uncached,
        'train_ms_per_step': sorted(times)[len(times) // 2], 'train_ms_per_step_best': min(times),
        'bandwidth_gbs': bandwidth_gbs(),
        'peak_rss_mb_after_sampling': rss_sampling, 'peak_rss_mb': peak_rss_mb(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f'{k}: {v:.2f}' if isinstance(v, float) else f'{k}: {v}')


if __name__ == '__main__':
    main()
