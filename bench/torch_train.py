#!/usr/bin/python3
"""The whole `baby` training run in PyTorch, as nanoGPT's train.py runs it with its README's CPU settings
(config/train_shakespeare_char.py with --device=cpu --compile=False --eval_iters=20 --log_interval=1
--block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000
--dropout=0.0): the wall time that `tsgpt train --preset baby` is measured against, taken on the same
machine in the same hour. Run by hand, never in CI:

    /usr/bin/time -f '%e s' /usr/bin/python3 bench/torch_train.py ../shared/data/tinyshakespeare.txt

Evaluates every 250 steps (train and val, 20 batches each) and saves a checkpoint when the validation loss
improves, as nanoGPT does. Prints the final losses and the time.
"""
import math
import sys
import time

import torch

sys.path.insert(0, __import__("os").path.dirname(__file__))
from torch_step import GPT  # noqa: E402  (the same model the step benchmark builds)

started = time.perf_counter()
text = open(sys.argv[1], encoding="utf-8").read()
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
n = int(0.9 * len(data))
splits = {"train": data[:n], "val": data[n:]}
assert len(chars) == 65, "the model is built for Tiny Shakespeare's 65 characters"

B, T, max_iters, eval_interval, eval_iters = 12, 64, 2000, 250, 20
lr, min_lr, warmup, decay_iters = 1e-3, 1e-4, 100, 2000
torch.manual_seed(1337)
model = GPT(4, 4, 128, T, 0.0, False, "nanogpt")
# nanoGPT's initialisation: N(0, 0.02) weights, zero biases, residual projections at 0.02 / sqrt(2 n_layer).
with torch.no_grad():
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            std = 0.02 / math.sqrt(2 * 4) if name.endswith(("attn.c_proj.weight", "mlp.2.weight")) else 0.02
            p.normal_(0.0, std)
        elif name.endswith("bias"):
            p.zero_()
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=lr, betas=(0.9, 0.99))


def batch(split):
    d = splits[split]
    ix = torch.randint(len(d) - T, (B,))
    return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + T + 1] for i in ix])


def lr_at(it):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    ratio = (it - warmup) / (decay_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * min(ratio, 1.0))) * (lr - min_lr)


@torch.no_grad()
def estimate():
    model.eval()
    out = {}
    for split in ("train", "val"):
        out[split] = sum(model(*batch(split))[1].item() for _ in range(eval_iters)) / eval_iters
    model.train()
    return out


best = float("inf")
for it in range(max_iters + 1):
    for g in opt.param_groups:
        g["lr"] = lr_at(it)
    if it % eval_interval == 0:
        losses = estimate()
        print(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}", flush=True)
        if losses["val"] < best:
            best = losses["val"]
            if it > 0:
                torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, "/tmp/torch_train_ckpt.pt")
    if it == max_iters:
        break
    _, loss = model(*batch("train"))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()

print(f"done: {max_iters} steps in {time.perf_counter() - started:.1f} s (after imports); "
      f"final val loss {losses['val']:.4f}, best {best:.4f}")
