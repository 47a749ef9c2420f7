#!/usr/bin/python3
"""PyTorch reference values for tsgpt's post-2017 ops (run by hand, never in CI):

    /usr/bin/python3 scripts/torch_modern_ops.py     # writes test/fixtures/modern_ops.safetensors

Separate from torch_parity.py because there is no single reference implementation to follow: each op is
written here from its published definition, named beside it.
  rms_norm   x / sqrt(mean(x^2) + eps), eps = float32's machine epsilon: PyTorch's F.rms_norm (2.4+) with no
             weight, as modded-nanogpt's train_gpt.py calls it (1.13 has no F.rms_norm, so it is spelled out).
  rotary     RoFormer (Su et al. 2021), eq. 34, theta_i = 10000^(-2i/d), with the pairs (i, i + d/2) of GPT-NeoX
             and modded-nanogpt's Rotary (x1 cos + x2 sin, -x1 sin + x2 cos there turns the other way; tsgpt and
             RoFormer turn by +t theta: y1 = x1 cos - x2 sin, y2 = x1 sin + x2 cos).
  qk         modded-nanogpt's CausalSelfAttention: q, k = norm(q), norm(k) per head, then rotary; v untouched.
  relu2      relu(x)^2: So et al. 2021 ("Primer"), modded-nanogpt's MLP.
  softcap    cap tanh(x / cap): Gemma 2, modded-nanogpt's logits (cap 30 there; 15 here to reach the curve).
The angle tables are computed in float64 and rounded once to float32, as tsgpt's rotaryAngles does.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_parity import FIXTURES, encode_safetensors  # noqa: E402  (the same small writer)

EPS = torch.finfo(torch.float32).eps


def rms_norm(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)


def rotary_tables(positions, head_size, base=10000.0):
    i = torch.arange(head_size // 2, dtype=torch.float64)
    theta = base ** (-2 * i / head_size)
    angle = torch.arange(positions, dtype=torch.float64)[:, None] * theta[None, :]
    return angle.cos().float(), angle.sin().float()


def rotate(x, cos, sin):
    """x [B, nh, T, hs]; cos, sin [T, hs/2]."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def main():
    torch.manual_seed(15)
    torch.set_num_threads(1)
    out = []
    config = {}

    def save(prefix, **kw):
        for k, v in kw.items():
            out.append((f"{prefix}.{k}", v.detach().float().contiguous()))

    B, T, C, nh = 2, 5, 12, 3
    hs = C // nh

    x = leaf(torch.randn(B, T, C) * 2 + 0.5)
    dy = torch.randn(B, T, C)
    y = rms_norm(x)
    y.backward(dy)
    save("rms_norm", x=x, dy=dy, out=y, dx=x.grad)

    cos, sin = rotary_tables(T, hs)
    for name, norm, rope in [("qk_norm", True, False), ("qk_rotary", False, True), ("qk_both", True, True)]:
        qkv = leaf(torch.randn(B, T, 3 * C))
        dy = torch.randn(B, T, 3 * C)
        q, k, v = qkv.split(C, dim=2)
        heads = lambda t: t.view(B, T, nh, hs).transpose(1, 2)  # noqa: E731
        q, k = heads(q), heads(k)
        if norm:
            q, k = rms_norm(q), rms_norm(k)
        if rope:
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        back = lambda t: t.transpose(1, 2).reshape(B, T, C)  # noqa: E731
        y = torch.cat([back(q), back(k), v], dim=2)
        y.backward(dy)
        save(name, qkv=qkv, dy=dy, out=y, dqkv=qkv.grad)
    save("rotary", cos=cos, sin=sin)

    x = leaf(torch.randn(B, T, C) * 2)
    dy = torch.randn(B, T, C)
    y = F.relu(x).square()
    y.backward(dy)
    save("relu2", x=x, dy=dy, out=y, dx=x.grad)

    cap = 15.0
    x = leaf(torch.randn(B, T, C) * 20)
    dy = torch.randn(B, T, C)
    y = cap * torch.tanh(x / cap)
    y.backward(dy)
    save("softcap", x=x, dy=dy, out=y, dx=x.grad)

    config = {"B": B, "T": T, "C": C, "n_head": nh, "rms_eps": EPS, "rotary_base": 10000.0, "softcap": cap, "torch": torch.__version__}
    path = os.path.join(FIXTURES, "modern_ops.safetensors")
    with open(path, "wb") as f:
        f.write(encode_safetensors(out, config))
    print(f"wrote {path}: {len(out)} tensors")


if __name__ == "__main__":
    main()
