#!/usr/bin/python3
"""PyTorch reference values for tsgpt's post-2017 ops and GPT options (run by hand, never in CI):

    /usr/bin/python3 scripts/torch_modern_ops.py
        # writes test/fixtures/modern_ops.safetensors (per op) and modern_gpt.safetensors (one training step of a
        # nanoGPT-form model with rotary embeddings, QK-norm, ReLU squared, an untied head and a logit soft-cap)
    /usr/bin/python3 scripts/torch_modern_ops.py rmsnorm_gpt
        # writes only test/fixtures/modern_rmsnorm_gpt.safetensors: nanoGPT's model with RMSNorm (no gain) for
        # ln_1, ln_2 and ln_f, one step with AdamW on everything, and one with --optimizer muon's split (Muon on
        # the blocks' matrices, AdamW on the rest, both at the schedule's factor, after one clipping)

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
  muon       modded-nanogpt's Muon and zeropower_via_newtonschulz5 (quintic, (a, b, c) = (3.4445, -4.7750, 2.0315),
             5 steps, X / (||X|| + 1e-7), transposed when rows > cols; update scaled by sqrt(max(1, rows / cols))),
             in float32 here where the speedrun runs bfloat16.
The angle tables are computed in float64 and rounded once to float32, as tsgpt's rotaryAngles does.
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_parity import BATCH, BETA1, BETA2, EPS as ADAM_EPS, FIXTURES, LR, WD, causal_attention, encode_safetensors  # noqa: E402

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


class ModernAttention(nn.Module):
    """modded-nanogpt's CausalSelfAttention, without its value embeddings: fused qkv (c_attn, as nanoGPT), then
    q, k = norm(q), norm(k) per head, then rotary; c_proj."""

    def __init__(self, c, cos, sin):
        super().__init__()
        self.c, self.cos, self.sin = c, cos, sin
        self.c_attn = nn.Linear(c["n_embd"], 3 * c["n_embd"], bias=False)
        self.c_proj = nn.Linear(c["n_embd"], c["n_embd"], bias=False)

    def forward(self, x):
        B, T, C = x.shape
        nh = self.c["n_head"]
        q, k, v = self.c_attn(x).split(C, dim=2)
        heads = lambda t: t.view(B, T, nh, C // nh).transpose(1, 2)  # noqa: E731
        back = lambda t: t.transpose(1, 2).reshape(B, T, C)  # noqa: E731
        q, k = rms_norm(heads(q)), rms_norm(heads(k))
        q, k = rotate(q, self.cos[:T], self.sin[:T]), rotate(k, self.cos[:T], self.sin[:T])
        return self.c_proj(causal_attention(back(q), back(k), v, nh))


class ModernBlock(nn.Module):
    def __init__(self, c, cos, sin):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c["n_embd"], eps=1e-5)
        self.attn = ModernAttention(c, cos, sin)
        self.ln_2 = nn.LayerNorm(c["n_embd"], eps=1e-5)
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(c["n_embd"], 4 * c["n_embd"], bias=False), c_proj=nn.Linear(4 * c["n_embd"], c["n_embd"], bias=False)))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp.c_proj(F.relu(self.mlp.c_fc(self.ln_2(x))).square())  # modded-nanogpt's MLP


class ModernGPT(nn.Module):
    """nanoGPT's GPT (ReLU squared in the MLP, LayerNorms without bias in tsgpt's bias=False are gains only: PyTorch 1.13's
    LayerNorm always has a bias, so it is held at zero and left out of the fixture) with no wpe, an untied
    lm_head and cap tanh(logits / cap)."""

    def __init__(self, c):
        super().__init__()
        cos, sin = rotary_tables(c["block_size"], c["n_embd"] // c["n_head"])
        self.c = c
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c["vocab_size"], c["n_embd"]),
            h=nn.ModuleList([ModernBlock(c, cos, sin) for _ in range(c["n_layer"])]),
            ln_f=nn.LayerNorm(c["n_embd"], eps=1e-5),
        ))
        self.lm_head = nn.Linear(c["n_embd"], c["vocab_size"], bias=False)
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                m.bias.requires_grad_(False)

    def forward(self, idx, targets):
        x = self.transformer.wte(idx)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        cap = self.c["logit_softcap"]
        logits = cap * torch.tanh(logits / cap)
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def build_model_fixture():
    torch.manual_seed(1515)
    c = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, logit_softcap=2.0)
    model = ModernGPT(c)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if not p.requires_grad:
                p.zero_()
            elif n.endswith("ln_1.weight") or n.endswith("ln_2.weight") or n.endswith("ln_f.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * (0.5 if n == "lm_head.weight" else 0.1))
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    seq = torch.randint(0, c["vocab_size"], (BATCH, c["block_size"] + 1), dtype=torch.long)
    idx, targets = seq[:, :-1].contiguous(), seq[:, 1:].contiguous()
    tensors = [("param." + n, p.detach().clone()) for n, p in named]
    tensors += [("input.idx", idx.to(torch.int32)), ("input.targets", targets.to(torch.int32))]
    logits, loss = model(idx, targets)
    assert logits.abs().max().item() > 0.5 * c["logit_softcap"], "the cap must bend some logits"
    tensors += [("out.logits", logits.detach().clone()), ("out.loss", loss.detach().clone().reshape(1))]
    loss.backward()
    tensors += [("grad." + n, p.grad.detach().clone()) for n, p in named]
    params = [p for _, p in named]
    grad_clip = 0.1
    total_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    assert total_norm.item() > grad_clip
    tensors.append(("out.grad_norm", total_norm.detach().clone().reshape(1)))
    opt = torch.optim.AdamW(
        [{"params": [p for p in params if p.dim() >= 2], "weight_decay": WD}, {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
        lr=LR, betas=(BETA1, BETA2), eps=ADAM_EPS, foreach=False,
    )
    opt.step()
    tensors += [("after." + n, p.detach().clone()) for n, p in named]
    config = dict(c, style="nanogpt", bias=False, activation="relu2", rotary=True, qk_norm=True, untied_head=True, dropout=0, batch_size=BATCH,
                  learning_rate=LR, beta1=BETA1, beta2=BETA2, eps=ADAM_EPS, weight_decay=WD, grad_clip=grad_clip)
    return tensors, config


class RmsNormGPT(nn.Module):
    """nanoGPT's GPT (learned positions, exact GELU, no biases as the baby preset, lm_head tied to wte) with each
    LayerNorm replaced by rms_norm, which has no weight: no ln_1, ln_2 or ln_f in the state dict. (With biases, the
    key bias's gradient is zero up to rounding, the softmax being blind to it, and AdamW's step on that noise is
    not comparable.)"""

    def __init__(self, c):
        super().__init__()
        C = c["n_embd"]
        self.c = c
        block = lambda: nn.ModuleDict(dict(  # noqa: E731
            attn=nn.ModuleDict(dict(c_attn=nn.Linear(C, 3 * C, bias=False), c_proj=nn.Linear(C, C, bias=False))),
            mlp=nn.ModuleDict(dict(c_fc=nn.Linear(C, 4 * C, bias=False), c_proj=nn.Linear(4 * C, C, bias=False))),
        ))
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c["vocab_size"], C),
            wpe=nn.Embedding(c["block_size"], C),
            h=nn.ModuleList([block() for _ in range(c["n_layer"])]),
        ))

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T))
        for b in self.transformer.h:
            q, k, v = b.attn.c_attn(rms_norm(x)).split(self.c["n_embd"], dim=2)
            x = x + b.attn.c_proj(causal_attention(q, k, v, self.c["n_head"]))
            x = x + b.mlp.c_proj(F.gelu(b.mlp.c_fc(rms_norm(x))))
        logits = F.linear(rms_norm(x), self.transformer.wte.weight)
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def build_rmsnorm_fixture():
    torch.manual_seed(1517)
    c = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    model = RmsNormGPT(c)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.3 if "c_fc" in n else 0.1))
    named = list(model.named_parameters())
    params = [p for _, p in named]
    seq = torch.randint(0, c["vocab_size"], (BATCH, c["block_size"] + 1), dtype=torch.long)
    idx, targets = seq[:, :-1].contiguous(), seq[:, 1:].contiguous()
    tensors = [("param." + n, p.detach().clone()) for n, p in named]
    tensors += [("input.idx", idx.to(torch.int32)), ("input.targets", targets.to(torch.int32))]
    logits, loss = model(idx, targets)
    tensors += [("out.logits", logits.detach().clone()), ("out.loss", loss.detach().clone().reshape(1))]
    loss.backward()
    tensors += [("grad." + n, p.grad.detach().clone()) for n, p in named]
    grad_clip = 0.1
    total_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    assert total_norm.item() > grad_clip
    tensors.append(("out.grad_norm", total_norm.detach().clone().reshape(1)))
    clipped = [p.grad.clone() for p in params]
    before = [p.detach().clone() for p in params]
    # A few of this model's gradients are within 1e-8 of zero, where the first AdamW step, g / (|g| + eps), is
    # rounding noise with eps 1e-8 (nothing to compare); eps 1e-6 keeps those steps small and well defined.
    eps = 1e-6

    def adamw(group):
        return torch.optim.AdamW(
            [{"params": [p for p in group if p.dim() >= 2], "weight_decay": WD}, {"params": [p for p in group if p.dim() < 2], "weight_decay": 0.0}],
            lr=LR, betas=(BETA1, BETA2), eps=eps, foreach=False,
        )

    adamw(params).step()
    tensors += [("after." + n, p.detach().clone()) for n, p in named]
    # The same step from the same weights and clipped gradients, split as tsgpt's --optimizer muon splits it:
    # Muon on the blocks' 2-D weights at muon_lr times the schedule's factor (lr / peak lr), AdamW on the rest.
    lr_factor, muon_lr, momentum = 0.5, 0.02, 0.95
    with torch.no_grad():
        for p, b, g in zip(params, before, clipped):
            p.copy_(b)
            p.grad = g.clone()
    hidden = [n.startswith("transformer.h.") and p.dim() == 2 for n, p in named]
    opt = adamw([p for p, h in zip(params, hidden) if not h])
    for g in opt.param_groups:
        g["lr"] = LR * lr_factor
    opt.step()
    muon = [p for p, h in zip(params, hidden) if h]
    muon_step(muon, [torch.zeros_like(p) for p in muon], muon_lr * lr_factor, momentum)
    tensors += [("muon_after." + n, p.detach().clone()) for n, p in named]
    config = dict(c, style="nanogpt", bias=False, activation="gelu", norm="rmsnorm", dropout=0, batch_size=BATCH, learning_rate=LR,
                  beta1=BETA1, beta2=BETA2, eps=eps, weight_decay=WD, grad_clip=grad_clip, lr_factor=lr_factor, muon_lr=muon_lr,
                  muon_momentum=momentum, muon_names=[n for (n, _), h in zip(named, hidden) if h])
    return tensors, config


def zeropower_via_newtonschulz5(G, steps=5, eps=1e-7):
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.float()
    X = X / (X.norm() + eps)
    if G.size(0) > G.size(1):
        X = X.T
    for _ in range(steps):
        A = X @ X.T
        B = b * A + c * A @ A
        X = a * X + B @ X
    if G.size(0) > G.size(1):
        X = X.T
    return X


def muon_step(params, bufs, lr, momentum, nesterov=True, steps=5):
    with torch.no_grad():
        for p, buf in zip(params, bufs):
            g = p.grad
            buf.mul_(momentum).add_(g)
            g = g.add(buf, alpha=momentum) if nesterov else buf
            g = zeropower_via_newtonschulz5(g, steps=steps)
            p.add_(g, alpha=-lr * max(1, p.size(0) / p.size(1)) ** 0.5)


def build_muon_fixture():
    torch.manual_seed(1516)
    shapes = [(6, 10), (10, 6), (8, 8)]
    params = [torch.randn(*s) * 0.1 for s in shapes]
    bufs = [torch.zeros(*s) for s in shapes]
    lr, momentum = 0.02, 0.95
    tensors = []
    for i, p in enumerate(params):
        tensors.append((f"w{i}.param", p.clone()))
    for step in (1, 2):
        for i, p in enumerate(params):
            p.grad = torch.randn_like(p)
            tensors.append((f"w{i}.grad{step}", p.grad.clone()))
        muon_step(params, bufs, lr, momentum)
        for i, p in enumerate(params):
            tensors.append((f"w{i}.after{step}", p.clone()))
    for i, b in enumerate(bufs):
        tensors.append((f"w{i}.buf", b.clone()))
    # The orthogonalised update of a square matrix has singular values near 1 (the quintic's band, about 0.7 to 1.2).
    sv = torch.linalg.svdvals(zeropower_via_newtonschulz5(torch.randn(8, 8)))
    assert sv.min() > 0.5 and sv.max() < 1.3, sv
    return tensors, dict(lr=lr, momentum=momentum, nesterov=True, ns_steps=5, shapes=shapes)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def main():
    if sys.argv[1:] == ["rmsnorm_gpt"]:
        torch.set_num_threads(1)
        tensors, config = build_rmsnorm_fixture()
        path = os.path.join(FIXTURES, "modern_rmsnorm_gpt.safetensors")
        with open(path, "wb") as f:
            f.write(encode_safetensors(tensors, config))
        print(f"wrote {path}: {len(tensors)} tensors")
        return
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
    tensors, config = build_muon_fixture()
    path = os.path.join(FIXTURES, "modern_muon.safetensors")
    with open(path, "wb") as f:
        f.write(encode_safetensors(tensors, config))
    print(f"wrote {path}: {len(tensors)} tensors")
    tensors, config = build_model_fixture()
    path = os.path.join(FIXTURES, "modern_gpt.safetensors")
    with open(path, "wb") as f:
        f.write(encode_safetensors(tensors, config))
    print(f"wrote {path}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
