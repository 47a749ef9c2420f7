#!/usr/bin/python3
"""Generate PyTorch reference fixtures for tsgpt's parity tests.

Run by hand, never in CI (it needs PyTorch, which CI does not have). The whole-model references are the
real files, imported as they are, never rewritten here (a rewrite is how tsgpt's tanh GELU once went
unnoticed next to nanoGPT's exact one): nanoGPT's model.py and the lecture's gpt.py, from a git repository
(a bare mirror or a checkout) whose paths are given:

    /usr/bin/python3 scripts/torch_parity.py --nanogpt NANOGPT_REPO --lecture LECTURE_REPO
    /usr/bin/python3 scripts/torch_parity.py --nanogpt ... --lecture ... --check   # compare with the files on disk

Writes under test/fixtures/ (see scripts/README.md):
  ops.safetensors              per-op forward values and input gradients
  parity_nanogpt.safetensors   one training step of nanoGPT's model.py (exact GELU)
  parity_lecture.safetensors   one training step of the lecture's gpt.py
  gpt2_tiny/                   a small random GPT-2 in Hugging Face's layout (config.json, model.safetensors,
                               vocab.json, merges.txt)
  gpt2_tiny_logits.safetensors its logits from nanoGPT's model.py after from_pretrained's transposes (exact
                               GELU) and from GPT-2's own computation (tanh GELU)
  erf_reference.json           Python's math.erf and math.erfc (C's libm) on a sweep, for the float64 erf
Each model file's metadata records the git commit of the reference file it came from.

The safetensors files are written by the small writer below (no library):
8-byte little-endian u64 header length N, N bytes of JSON header (space padded to
a multiple of 8), then the raw little-endian tensor data, laid out contiguously
in the order the tensors were added.
"""

import argparse
import ast
import contextlib
import hashlib
import io
import json
import math
import os
import struct
import subprocess
import sys
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)
torch.set_num_threads(1)  # keep float reductions in a fixed order
torch.use_deterministic_algorithms(True)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "test", "fixtures")

# ---------------------------------------------------------------------------
# safetensors writer / reader
# ---------------------------------------------------------------------------

_DTYPES = {
    # torch dtype -> (safetensors name, struct code)
    torch.float32: ("F32", "f"),
    torch.int32: ("I32", "i"),
}
_CODES = {name: code for name, code in _DTYPES.values()}


def _tensor_bytes(t):
    name, code = _DTYPES[t.dtype]
    values = t.detach().contiguous().reshape(-1).tolist()
    return struct.pack("<%d%s" % (len(values), code), *values)


def encode_safetensors(tensors, config, metadata=None):
    """tensors: list of (name, tensor) in file order; config: JSON-able dict, stored as the metadata's
    "config" (or `metadata` as it is, when given)."""
    header = {"__metadata__": metadata if metadata is not None else {"config": json.dumps(config, sort_keys=False)}}
    blobs = []
    offset = 0
    seen = set()
    for name, t in tensors:
        if name in seen:
            raise ValueError("duplicate tensor name %r" % name)
        seen.add(name)
        if t.dtype not in _DTYPES:
            raise TypeError("%s: unsupported dtype %s" % (name, t.dtype))
        blob = _tensor_bytes(t)
        shape = list(t.shape) if t.dim() > 0 else [1]
        header[name] = {
            "dtype": _DTYPES[t.dtype][0],
            "shape": shape,
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((-len(hbytes)) % 8)
    return struct.pack("<Q", len(hbytes)) + hbytes + b"".join(blobs)


def decode_safetensors(data):
    """Independent reader: returns (metadata, [(name, dtype, shape, values)])."""
    if len(data) < 8:
        raise ValueError("file too short")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n % 8 != 0:
        raise ValueError("header length %d is not a multiple of 8" % n)
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    meta = header.pop("__metadata__", {})
    entries = []
    expect = 0
    # Tensors must be contiguous, in the order of their offsets, and cover the body.
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        if begin != expect:
            raise ValueError("%s: gap/overlap at offset %d (expected %d)" % (name, begin, expect))
        count = 1
        for d in info["shape"]:
            count *= d
        if end - begin != 4 * count:
            raise ValueError("%s: %d bytes for shape %s" % (name, end - begin, info["shape"]))
        code = _CODES[info["dtype"]]
        values = list(struct.unpack_from("<%d%s" % (count, code), body, begin))
        entries.append((name, info["dtype"], info["shape"], values))
        expect = end
    if expect != len(body):
        raise ValueError("data section is %d bytes, tensors cover %d" % (len(body), expect))
    # The header's key order must be the order of the data.
    if [e[0] for e in entries] != list(header.keys()):
        raise ValueError("header key order differs from data order")
    return meta, entries


def check_roundtrip(data, tensors, config):
    meta, entries = decode_safetensors(data)
    if json.loads(meta["config"]) != config:
        raise AssertionError("config metadata does not round-trip")
    if len(entries) != len(tensors):
        raise AssertionError("tensor count %d != %d" % (len(entries), len(tensors)))
    for (name, t), (rname, rdtype, rshape, rvalues) in zip(tensors, entries):
        if name != rname:
            raise AssertionError("name %s != %s" % (name, rname))
        if rdtype != _DTYPES[t.dtype][0]:
            raise AssertionError("%s: dtype %s" % (name, rdtype))
        if rshape != (list(t.shape) if t.dim() > 0 else [1]):
            raise AssertionError("%s: shape %s vs %s" % (name, rshape, list(t.shape)))
        back = torch.tensor(rvalues, dtype=t.dtype).reshape(t.shape)
        # bitwise comparison (also distinguishes -0.0 and NaN payloads)
        if t.dtype == torch.float32:
            same = torch.equal(back.view(torch.int32), t.detach().contiguous().view(torch.int32))
        else:
            same = torch.equal(back, t)
        if not same:
            raise AssertionError("%s: values do not round-trip" % name)
        if t.dtype == torch.float32 and not torch.isfinite(t).all():
            raise AssertionError("%s: non-finite values" % name)
    return len(entries)


# ---------------------------------------------------------------------------
# Fixture 1: per-op reference values
# ---------------------------------------------------------------------------


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def causal_attention(q, k, v, n_head):
    """q, k, v: [B, T, C]; heads are column blocks of width C / n_head."""
    B, T, C = q.shape
    hs = C // n_head
    q = q.view(B, T, n_head, hs).transpose(1, 2)
    k = k.view(B, T, n_head, hs).transpose(1, 2)
    v = v.view(B, T, n_head, hs).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    att = att.masked_fill(~mask, float("-inf"))
    att = F.softmax(att, dim=-1)
    y = att @ v
    return y.transpose(1, 2).contiguous().view(B, T, C)


def build_ops():
    torch.manual_seed(1234)
    B, T, C, V = 2, 5, 12, 7
    K, N = 12, 9
    AT, AC, NH = 6, 12, 3
    CE_N, CE_V = 10, 7
    eps = 1e-5
    out = []

    def save(prefix, **kw):
        for k, t in kw.items():
            out.append(("%s.%s" % (prefix, k), t.detach().clone()))

    # embedding
    weight = leaf(torch.randn(V, C))
    idx = torch.randint(0, V, (B, T), dtype=torch.int64)
    idx[1, 3] = idx[0, 1]  # guarantee repeated ids (their gradients must add up)
    idx[1, 4] = idx[0, 1]
    y = F.embedding(idx, weight)
    dy = torch.randn_like(y)
    y.backward(dy)
    save("embedding", weight=weight, idx=idx.to(torch.int32), dy=dy, out=y, dweight=weight.grad)

    # linear
    x = leaf(torch.randn(B, T, K))
    w = leaf(torch.randn(N, K) / math.sqrt(K))
    b = leaf(torch.randn(N))
    y = F.linear(x, w, b)
    dy = torch.randn_like(y)
    y.backward(dy)
    save("linear", x=x, weight=w, bias=b, dy=dy, out=y, dx=x.grad, dweight=w.grad, dbias=b.grad)

    # add_broadcast: [B,T,C] + [T,C]
    a = leaf(torch.randn(B, T, C))
    bb = leaf(torch.randn(T, C))
    y = a + bb
    dy = torch.randn_like(y)
    y.backward(dy)
    save("add_broadcast", a=a, b=bb, dy=dy, out=y, da=a.grad, db=bb.grad)

    # layernorm
    x = leaf(torch.randn(B, T, C) * 2.0 + 0.5)
    w = leaf(1.0 + 0.5 * torch.randn(C))
    b = leaf(0.5 * torch.randn(C))
    y = F.layer_norm(x, (C,), w, b, eps)
    dy = torch.randn_like(y)
    y.backward(dy)
    save("layernorm", x=x, weight=w, bias=b, dy=dy, out=y, dx=x.grad, dweight=w.grad, dbias=b.grad)

    # relu (keep inputs at least 0.01 away from 0)
    x0 = torch.randn(B, T, C)
    x = leaf(torch.where(x0 >= 0, x0 + 0.01, x0 - 0.01))
    y = F.relu(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    save("relu", x=x, dy=dy, out=y, dx=x.grad)

    # gelu, tanh approximation (GPT-2's)
    x = leaf(torch.randn(B, T, C) * 2.0)
    y = F.gelu(x, approximate="tanh")
    dy = torch.randn_like(y)
    y.backward(dy)
    save("gelu_tanh", x=x, dy=dy, out=y, dx=x.grad)

    # softmax over the last dim
    x = leaf(torch.randn(B, T, V) * 2.0)
    y = F.softmax(x, dim=-1)
    dy = torch.randn_like(y)
    y.backward(dy)
    save("softmax", x=x, dy=dy, out=y, dx=x.grad)

    # causal multi-head attention
    q = leaf(torch.randn(B, AT, AC))
    k = leaf(torch.randn(B, AT, AC))
    v = leaf(torch.randn(B, AT, AC))
    y = causal_attention(q, k, v, NH)
    dy = torch.randn_like(y)
    y.backward(dy)
    save("attention", q=q, k=k, v=v, dy=dy, out=y, dq=q.grad, dk=k.grad, dv=v.grad)

    # cross entropy with ignore_index=-1, mean over the non-ignored rows
    logits = leaf(torch.randn(CE_N, CE_V) * 2.0)
    targets = torch.randint(0, CE_V, (CE_N,), dtype=torch.int64)
    targets[3] = -1
    loss = F.cross_entropy(logits, targets, ignore_index=-1)
    loss.backward()
    save("cross_entropy", logits=logits, targets=targets.to(torch.int32),
         loss=loss.reshape(1), dlogits=logits.grad)

    # gelu, exact (nn.GELU(), nanoGPT's); drawn last so the values above stay those of earlier fixtures
    x = leaf(torch.randn(B, T, C) * 2.0)
    y = F.gelu(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    save("gelu", x=x, dy=dy, out=y, dx=x.grad)

    config = {
        "seed": 1234,
        "dtype": "float32",
        "embedding": {"B": B, "T": T, "V": V, "C": C},
        "linear": {"B": B, "T": T, "K": K, "N": N},
        "add_broadcast": {"B": B, "T": T, "C": C},
        "layernorm": {"B": B, "T": T, "C": C, "eps": eps},
        "relu": {"B": B, "T": T, "C": C},
        "gelu_tanh": {"B": B, "T": T, "C": C, "approximate": "tanh"},
        "gelu": {"B": B, "T": T, "C": C, "approximate": "none"},
        "softmax": {"B": B, "T": T, "V": V, "dim": -1},
        "attention": {"B": B, "T": AT, "C": AC, "n_head": NH, "head_size": AC // NH,
                      "scale": 1.0 / math.sqrt(AC // NH), "causal": True},
        "cross_entropy": {"N": CE_N, "V": CE_V, "ignore_index": -1, "reduction": "mean"},
    }
    return out, config


# ---------------------------------------------------------------------------
# The reference files: nanoGPT's model.py and the lecture's gpt.py, as they are
# ---------------------------------------------------------------------------


def read_reference(repo, path):
    """The text of `path` at the repository's HEAD, and where it came from: the commit that last changed the
    file (and HEAD). `repo` is a bare mirror (read with git show) or a checkout (read from disk, which must
    match HEAD: a locally edited reference would not be the reference)."""
    def git(*args):
        return subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True, text=True).stdout
    head = git("rev-parse", "HEAD").strip()
    commit = git("log", "-1", "--format=%H", "HEAD", "--", path).strip()
    if not commit:
        raise SystemExit("%s has no %s at HEAD" % (repo, path))
    text = git("show", "HEAD:" + path)
    on_disk = os.path.join(repo, path)
    if os.path.isfile(on_disk):
        with open(on_disk, encoding="utf-8") as f:
            if f.read() != text:
                raise SystemExit("%s differs from its HEAD: commit or discard the edit first" % on_disk)
    blob = git("rev-parse", "HEAD:" + path).strip()
    return text, {"repository": os.path.abspath(repo), "file": path, "commit": commit, "head": head, "blob": blob}


def load_nanogpt(repo):
    """nanoGPT's model.py as a module, executed whole and unmodified; and its text."""
    text, origin = read_reference(repo, "model.py")
    module = types.ModuleType("nanogpt_model")
    module.__file__ = os.path.join(repo, "model.py")
    sys.modules[module.__name__] = module  # @dataclass looks its class's module up here
    exec(compile(text, module.__file__, "exec"), module.__dict__)
    return module, text, origin


# The lecture's hyperparameters the model classes read as globals, set for the fixture's small model; the
# script checks that gpt.py assigns each of them in its hyperparameter block (vocab_size it computes from the
# text, which is not loaded here).
LECTURE_GLOBALS = dict(n_embd=16, n_head=2, n_layer=2, block_size=8, dropout=0.0, device="cpu")


def load_lecture(repo, vocab_size):
    """The classes of the lecture's gpt.py, which trains at import: its source is parsed and only its imports,
    the hyperparameter assignments at its top (up to the first statement that is neither an import nor an
    assignment: torch.manual_seed) and its class definitions run, unmodified, in a namespace whose
    hyperparameters are then set for the fixture's small model. The classes are the file's own and read those
    globals when built (and `device` when run)."""
    text, origin = read_reference(repo, "gpt.py")
    tree = ast.parse(text, "gpt.py")
    selected, hyper = [], []
    in_header = True
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef)):
            selected.append(node)
            continue
        if in_header and isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            selected.append(node)
            hyper += [t.id for t in node.targets]
            continue
        in_header = False
    missing = [k for k in LECTURE_GLOBALS if k not in hyper]
    if missing:
        raise SystemExit("gpt.py's hyperparameter block no longer assigns %s" % ", ".join(missing))
    namespace = {"__name__": "lecture_gpt", "__file__": os.path.join(repo, "gpt.py")}
    exec(compile(ast.Module(body=selected, type_ignores=[]), namespace["__file__"], "exec"), namespace)
    namespace.update(LECTURE_GLOBALS, vocab_size=vocab_size)
    origin["executed"] = "imports, hyperparameter assignments (%s), classes" % ", ".join(hyper)
    return namespace, origin


# ---------------------------------------------------------------------------
# Fixtures 2 and 3: whole-model parity
# ---------------------------------------------------------------------------

MODEL_CFG = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
BATCH = 3
LR, BETA1, BETA2, EPS, WD = 1e-3, 0.9, 0.95, 1e-8, 0.1


def quietly(fn, *args, **kwargs):
    """model.py prints its parameter count (and, before PyTorch 2, a warning about slow attention)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def perturb(model):
    """LayerNorm weights -> 1 + 0.1*randn; every bias -> 0.02*randn: the models' own init leaves them at 1 and
    0, where a wrong gradient of either could hide. nanoGPT's LayerNorm is its own class, so parameters are
    told by name. The feed-forward's first weights get std 0.3, so that its activation sees inputs of order 1,
    where GELU's two forms differ by up to 5e-4 (at std 0.02 they would agree within the tests' tolerance)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            layer_norm = ".ln" in "." + name
            if layer_norm and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.02 * torch.randn_like(p))
            elif name.endswith("mlp.c_fc.weight") or name.endswith("ffwd.net.0.weight"):
                p.copy_(0.3 * torch.randn_like(p))


def build_model(style, refs):
    c = MODEL_CFG
    if style == "nanogpt":
        module = refs["nanogpt"]
        config = module.GPTConfig(block_size=c["block_size"], vocab_size=c["vocab_size"], n_layer=c["n_layer"],
                                  n_head=c["n_head"], n_embd=c["n_embd"], dropout=c["dropout"], bias=True)
        model = quietly(module.GPT, config)
        assert isinstance(model.transformer.h[0].mlp.gelu, nn.GELU) and model.transformer.h[0].mlp.gelu.approximate == "none"
        return model, lambda idx, targets: model(idx, targets)
    namespace = refs["lecture"]
    model = namespace["GPTLanguageModel"]()
    return model, lambda idx, targets: model(idx, targets)


def build_model_fixture(style, seed, refs):
    torch.manual_seed(seed)
    c = MODEL_CFG
    model, run = build_model(style, refs)
    perturb(model)
    # named_parameters() de-duplicates shared Parameters, keeping the first name:
    # the tied wte/lm_head weight appears once, as transformer.wte.weight.
    named = list(model.named_parameters())
    names = [n for n, _ in named]
    if style == "nanogpt":
        assert "lm_head.weight" not in names and "transformer.wte.weight" in names
        assert model.lm_head.weight is model.transformer.wte.weight

    # a random sequence; targets are the next tokens
    seq = torch.randint(0, c["vocab_size"], (BATCH, c["block_size"] + 1), dtype=torch.long)
    idx = seq[:, :-1].contiguous()
    targets = seq[:, 1:].contiguous()

    tensors = []
    for n, p in named:
        tensors.append(("param." + n, p.detach().clone()))
    tensors.append(("input.idx", idx.to(torch.int32)))
    tensors.append(("input.targets", targets.to(torch.int32)))

    logits, loss = run(idx, targets)
    tensors.append(("out.logits", logits.detach().clone().reshape(BATCH, c["block_size"], c["vocab_size"])))
    tensors.append(("out.loss", loss.detach().clone().reshape(1)))

    loss.backward()
    grads = [(n, p.grad.detach().clone()) for n, p in named]
    for n, g in grads:
        tensors.append(("grad." + n, g))

    params = [p for _, p in named]
    # clip at 1.0 if that actually clips; otherwise fall back to 0.1 (per the brief)
    pre_norm = torch.norm(torch.stack([torch.norm(p.grad.detach(), 2.0) for p in params]), 2.0)
    grad_clip = 1.0 if pre_norm.item() > 1.0 else 0.1
    if pre_norm.item() <= grad_clip:
        raise RuntimeError("grad norm %g does not exceed clip %g" % (pre_norm.item(), grad_clip))
    total_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    assert torch.equal(total_norm, pre_norm)
    tensors.append(("out.grad_norm", total_norm.detach().clone().reshape(1)))
    clipped_norm = math.sqrt(sum((p.grad.double() ** 2).sum().item() for p in params))
    assert abs(clipped_norm - grad_clip) < 1e-5 * grad_clip, clipped_norm  # clipping happened

    decay = [p for _, p in named if p.dim() >= 2]
    no_decay = [p for _, p in named if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
        lr=LR, betas=(BETA1, BETA2), eps=EPS, foreach=False,
    )
    opt.step()
    for n, p in named:
        tensors.append(("after." + n, p.detach().clone()))

    config = {
        "style": style,
        "activation": "gelu" if style == "nanogpt" else "relu",
        "reference": refs["origin"][style],
        "vocab_size": c["vocab_size"], "block_size": c["block_size"],
        "n_layer": c["n_layer"], "n_head": c["n_head"], "n_embd": c["n_embd"],
        "dropout": 0, "bias": True, "batch_size": BATCH,
        "learning_rate": LR, "beta1": BETA1, "beta2": BETA2, "eps": EPS,
        "weight_decay": WD, "grad_clip": grad_clip,
    }
    return tensors, config, names


# ---------------------------------------------------------------------------
# Fixture 4: a small random GPT-2 in Hugging Face's layout
# ---------------------------------------------------------------------------

GPT2_TINY = dict(n_layer=2, n_head=2, n_embd=16, n_positions=16)
# A few merges in GPT-2's file format ("Ġ" is the space byte): enough for a real byte-level vocabulary.
GPT2_TINY_MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "n"), ("o", "u"), ("e", "r"), ("Ġ", "s")]


def gpt2_byte_order():
    """GPT-2's byte-to-unicode table as its vocabulary files use it: the printable Latin-1 bytes stand for
    themselves and come first; the other 68 become U+0100 onwards, in byte order. Returns (byte order, char of
    each byte)."""
    printable = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    rest = [b for b in range(256) if b not in printable]
    chars = {b: chr(b) for b in printable}
    chars.update({b: chr(0x100 + i) for i, b in enumerate(rest)})
    return printable + rest, chars


def from_pretrained_conventions(source):
    """The names nanoGPT's GPT.from_pretrained transposes and the buffers it skips, read from its source (the
    list literals in the function), so the import below does what that function does, not what this script
    believes it does."""
    tree = ast.parse(source)
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "from_pretrained")
    transposed = None
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "transposed" for t in node.targets):
            transposed = ast.literal_eval(node.value)
    skipped = sorted({c.value for c in ast.walk(fn) if isinstance(c, ast.Constant) and isinstance(c.value, str)
                      and c.value in (".attn.bias", ".attn.masked_bias")})
    assert transposed and skipped == [".attn.bias", ".attn.masked_bias"], (transposed, skipped)
    return transposed, skipped


def gpt2_forward(P, idx, n_layer, n_head, gelu):
    """GPT-2's forward as OpenAI's model.py and Hugging Face's GPT2Model compute it, on the Hugging Face
    layout: Conv1D is x @ W + b with W stored [in, out] (no transpose anywhere), pre-norm blocks, ln_f, and the
    head tied to wte. Used with `gelu` exact it must reproduce nanoGPT's model.py on the transposed weights
    (checked), so the only thing the tanh form changes is the GELU: Hugging Face's "gelu_new", which is
    F.gelu(approximate="tanh")'s formula (nanoGPT's model.py with its GELU swapped would be a rewrite)."""
    B, T = idx.shape
    C = P["wte.weight"].shape[1]
    hs = C // n_head

    def ln(x, p):
        return F.layer_norm(x, (C,), P[p + ".weight"], P[p + ".bias"], 1e-5)

    x = P["wte.weight"][idx] + P["wpe.weight"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(n_layer):
        p = "h.%d." % i
        qkv = torch.addmm(P[p + "attn.c_attn.bias"], ln(x, p + "ln_1").reshape(B * T, C), P[p + "attn.c_attn.weight"])
        q, k, v = qkv.reshape(B, T, 3 * C).split(C, dim=2)
        q, k, v = (t.reshape(B, T, n_head, hs).transpose(1, 2) for t in (q, k, v))
        w = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        w = F.softmax(w.masked_fill(~mask, float("-inf")), dim=-1)
        a = (w @ v).transpose(1, 2).reshape(B * T, C)
        x = x + torch.addmm(P[p + "attn.c_proj.bias"], a, P[p + "attn.c_proj.weight"]).reshape(B, T, C)
        h = torch.addmm(P[p + "mlp.c_fc.bias"], ln(x, p + "ln_2").reshape(B * T, C), P[p + "mlp.c_fc.weight"])
        x = x + torch.addmm(P[p + "mlp.c_proj.bias"], gelu(h), P[p + "mlp.c_proj.weight"]).reshape(B, T, C)
    return ln(x, "ln_f") @ P["wte.weight"].t()


def build_gpt2_tiny(refs):
    module = refs["nanogpt"]
    order, chars = gpt2_byte_order()
    encoder = {chars[b]: i for i, b in enumerate(order)}
    for left, right in GPT2_TINY_MERGES:
        assert left in encoder and right in encoder and left + right not in encoder
        encoder[left + right] = len(encoder)
    encoder["<|endoftext|>"] = len(encoder)
    vocab_size = len(encoder)
    c = GPT2_TINY
    hf_config = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "bos_token_id": vocab_size - 1,
        "eos_token_id": vocab_size - 1,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": c["n_positions"],
        "n_embd": c["n_embd"],
        "n_head": c["n_head"],
        "n_layer": c["n_layer"],
        "n_positions": c["n_positions"],
        "vocab_size": vocab_size,
    }
    torch.manual_seed(2024)
    gpt_config = module.GPTConfig(block_size=c["n_positions"], vocab_size=vocab_size, n_layer=c["n_layer"],
                                  n_head=c["n_head"], n_embd=c["n_embd"], dropout=0.0, bias=True)
    source = quietly(module.GPT, gpt_config)
    perturb(source)
    transposed, skipped = from_pretrained_conventions(refs["nanogpt_source"])
    # The Hugging Face layout: no "transformer." prefix, Conv1D weights [in, out], the head tied (not stored),
    # and each block's causal mask stored as the buffer attn.bias, as GPT-2's published file has it.
    hf = []
    for k, v in source.state_dict().items():
        if k == "lm_head.weight" or any(k.endswith(w) for w in skipped):
            continue
        name = k[len("transformer."):]
        hf.append((name, v.t().contiguous() if any(k.endswith(w) for w in transposed) else v.clone()))
        if name.endswith("ln_1.bias"):
            n = c["n_positions"]
            hf.append((name.replace("ln_1.bias", "attn.bias"), torch.tril(torch.ones(n, n)).view(1, 1, n, n)))
    # Into a fresh model.py GPT as from_pretrained copies: transposing the Conv1D weights back.
    model = quietly(module.GPT, gpt_config)
    sd = model.state_dict()
    loaded = 0
    for name, v in hf:
        if any(name.endswith(w) for w in skipped):
            continue
        k = "transformer." + name
        with torch.no_grad():
            if any(k.endswith(w) for w in transposed):
                assert v.shape[::-1] == sd[k].shape
                sd[k].copy_(v.t())
            else:
                assert v.shape == sd[k].shape
                sd[k].copy_(v)
        loaded += 1
    assert loaded == len([k for k in sd if not any(k.endswith(w) for w in skipped)]) - 1  # lm_head is wte
    model.eval()
    seq = torch.randint(0, vocab_size, (2, c["n_positions"] + 1), dtype=torch.long)
    idx, targets = seq[:, :-1].contiguous(), seq[:, 1:].contiguous()
    with torch.no_grad():
        logits, loss = model(idx, targets)
        P = {name: v for name, v in hf}
        exact = gpt2_forward(P, idx, c["n_layer"], c["n_head"], F.gelu)
        tanh = gpt2_forward(P, idx, c["n_layer"], c["n_head"], lambda h: F.gelu(h, approximate="tanh"))
    agreement = (exact - logits).abs().max().item()
    assert agreement < 1e-5, agreement  # GPT-2's computation with the exact GELU is model.py's
    tanh_loss = F.cross_entropy(tanh.reshape(-1, vocab_size), targets.reshape(-1))
    expected = [
        ("input.idx", idx.to(torch.int32)),
        ("input.targets", targets.to(torch.int32)),
        ("out.logits_gelu", logits.clone()),
        ("out.loss_gelu", loss.reshape(1).clone()),
        ("out.logits_gelu_tanh", tanh.clone()),
        ("out.loss_gelu_tanh", tanh_loss.reshape(1).clone()),
    ]
    expected_config = {
        "hf_config": hf_config,
        "reference": refs["origin"]["nanogpt"],
        "gelu": "nanoGPT's model.py GPT after from_pretrained's transposes (transposed: %s)" % ", ".join(transposed),
        "gelu_tanh": "GPT-2's forward on the Hugging Face layout with F.gelu(approximate='tanh') (gelu_new); "
                     "the same forward with the exact GELU matched model.py to %.2g" % agreement,
    }
    merges = "#version: 0.2\n" + "".join("%s %s\n" % m for m in GPT2_TINY_MERGES)
    files = [
        ("gpt2_tiny/config.json", (json.dumps(hf_config, indent=2, sort_keys=True) + "\n").encode("utf-8")),
        ("gpt2_tiny/model.safetensors", encode_safetensors(hf, None, {"format": "pt"})),
        ("gpt2_tiny/vocab.json", json.dumps(encoder, ensure_ascii=False).encode("utf-8")),
        ("gpt2_tiny/merges.txt", merges.encode("utf-8")),
    ]
    return files, expected, expected_config, agreement


def erf_reference():
    """Python's math.erf and math.erfc (C's libm, double precision) on a sweep, for the float64 erf tsgpt's
    reference GELU kernel uses."""
    zs = [round(-6 + 0.01 * i, 2) for i in range(1201)] + [6.5 + 0.5 * i for i in range(40)] + [1e-8, -1e-8, 1e-300]
    points = [[z, math.erf(z), math.erfc(z)] for z in zs]
    doc = {"source": "Python %s math.erf and math.erfc" % sys.version.split()[0], "points": points}
    return (json.dumps(doc, separators=(",", ":")) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------
# Independent cross-checks (float64, written differently from the code above)
# ---------------------------------------------------------------------------


def as_dict(tensors):
    return {n: t for n, t in tensors}


def close(a, b, tol, what):
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    err = (a - b).abs().max().item()
    scale = max(1.0, b.abs().max().item())
    if not err <= tol * scale:
        raise AssertionError("%s: max abs err %g (tol %g)" % (what, err, tol * scale))
    return err


def loop_attention(q, k, v, n_head):
    """Plain Python loops over lists of floats; returns nested lists [B][T][C]."""
    B, T, C = len(q), len(q[0]), len(q[0][0])
    hs = C // n_head
    out = [[[0.0] * C for _ in range(T)] for _ in range(B)]
    for b in range(B):
        for h in range(n_head):
            cols = range(h * hs, (h + 1) * hs)
            for i in range(T):
                scores = []
                for j in range(i + 1):  # keys after the query are masked
                    s = sum(q[b][i][c] * k[b][j][c] for c in cols)
                    scores.append(s / math.sqrt(hs))
                m = max(scores)
                e = [math.exp(s - m) for s in scores]
                z = sum(e)
                for c in cols:
                    out[b][i][c] = sum(e[j] / z * v[b][j][c] for j in range(i + 1))
    return out


def f64_attention(q, k, v, n_head):
    """Autograd-friendly float64 attention, per head by column slicing and explicit masking."""
    B, T, C = q.shape
    hs = C // n_head
    outs = []
    for h in range(n_head):
        sl = slice(h * hs, (h + 1) * hs)
        s = torch.einsum("bic,bjc->bij", q[:, :, sl], k[:, :, sl]) / math.sqrt(hs)
        allowed = torch.arange(T)[None, :] <= torch.arange(T)[:, None]
        s = torch.where(allowed, s, torch.full_like(s, -1e300))
        p = torch.exp(s - s.max(dim=-1, keepdim=True).values)
        p = p / p.sum(dim=-1, keepdim=True)
        outs.append(torch.einsum("bij,bjc->bic", p, v[:, :, sl]))
    return torch.cat(outs, dim=-1)


def cross_check_ops(tensors):
    d = {n: t.double() for n, t in tensors}
    nh = 3
    report = {}
    # attention forward by plain loops
    ref = loop_attention(d["attention.q"].tolist(), d["attention.k"].tolist(),
                         d["attention.v"].tolist(), nh)
    report["attention.out (loops)"] = close(d["attention.out"], ref, 1e-5, "attention.out")
    # attention gradients through a different float64 implementation
    q, k, v = (d["attention." + n].clone().requires_grad_(True) for n in "qkv")
    y = f64_attention(q, k, v, nh)
    y.backward(d["attention.dy"])
    for n, t in (("dq", q), ("dk", k), ("dv", v)):
        report["attention." + n] = close(d["attention." + n], t.grad, 1e-5, "attention." + n)
    # embedding: scatter-add by loops
    w = d["embedding.weight"]
    idx = tensors[[n for n, _ in tensors].index("embedding.idx")][1].tolist()
    dw = torch.zeros_like(w)
    for b in range(len(idx)):
        for t in range(len(idx[b])):
            dw[idx[b][t]] += d["embedding.dy"][b, t]
    flat = [i for row in idx for i in row]
    assert len(set(flat)) < len(flat), "embedding ids should repeat"
    report["embedding.dweight"] = close(d["embedding.dweight"], dw, 1e-6, "embedding.dweight")
    # linear: explicit formulas
    x, W, bias, dy = d["linear.x"], d["linear.weight"], d["linear.bias"], d["linear.dy"]
    report["linear.out"] = close(d["linear.out"], torch.einsum("btk,nk->btn", x, W) + bias, 1e-5, "linear.out")
    report["linear.dx"] = close(d["linear.dx"], torch.einsum("btn,nk->btk", dy, W), 1e-5, "linear.dx")
    report["linear.dweight"] = close(d["linear.dweight"], torch.einsum("btn,btk->nk", dy, x), 1e-5, "linear.dweight")
    report["linear.dbias"] = close(d["linear.dbias"], dy.sum((0, 1)), 1e-5, "linear.dbias")
    # add_broadcast
    report["add_broadcast.db"] = close(d["add_broadcast.db"], d["add_broadcast.dy"].sum(0), 1e-6, "add_broadcast.db")
    # layernorm: closed-form backward
    x, g, bta, dy = d["layernorm.x"], d["layernorm.weight"], d["layernorm.bias"], d["layernorm.dy"]
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance
    rstd = 1.0 / torch.sqrt(var + 1e-5)
    xhat = (x - mu) * rstd
    report["layernorm.out"] = close(d["layernorm.out"], xhat * g + bta, 1e-5, "layernorm.out")
    dxhat = dy * g
    dx = rstd * (dxhat - dxhat.mean(-1, keepdim=True) - xhat * (dxhat * xhat).mean(-1, keepdim=True))
    report["layernorm.dx"] = close(d["layernorm.dx"], dx, 1e-5, "layernorm.dx")
    report["layernorm.dweight"] = close(d["layernorm.dweight"], (dy * xhat).sum((0, 1)), 1e-5, "layernorm.dweight")
    # gelu tanh: formula and analytic derivative
    x, dy = d["gelu_tanh.x"], d["gelu_tanh.dy"]
    a = math.sqrt(2.0 / math.pi)
    u = a * (x + 0.044715 * x ** 3)
    th = torch.tanh(u)
    report["gelu_tanh.out"] = close(d["gelu_tanh.out"], 0.5 * x * (1 + th), 1e-5, "gelu_tanh.out")
    dgelu = 0.5 * (1 + th) + 0.5 * x * (1 - th ** 2) * a * (1 + 3 * 0.044715 * x ** 2)
    report["gelu_tanh.dx"] = close(d["gelu_tanh.dx"], dy * dgelu, 1e-5, "gelu_tanh.dx")
    # gelu exact: x Phi(x) and Phi(x) + x phi(x), from math.erf
    x, dy = d["gelu.x"], d["gelu.dy"]
    cdf = torch.tensor([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.reshape(-1).tolist()], dtype=torch.float64).reshape(x.shape)
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    report["gelu.out"] = close(d["gelu.out"], x * cdf, 1e-5, "gelu.out")
    report["gelu.dx"] = close(d["gelu.dx"], dy * (cdf + x * pdf), 1e-5, "gelu.dx")
    # relu
    assert d["relu.x"].abs().min().item() >= 1e-3
    report["relu.dx"] = close(d["relu.dx"], d["relu.dy"] * (d["relu.x"] > 0), 0, "relu.dx")
    # softmax backward: y * (dy - sum(dy*y))
    y, dy = d["softmax.out"], d["softmax.dy"]
    report["softmax.dx"] = close(d["softmax.dx"], y * (dy - (dy * y).sum(-1, keepdim=True)), 1e-6, "softmax.dx")
    # cross entropy by loops
    logits = d["cross_entropy.logits"].tolist()
    tg = [int(t) for t in d["cross_entropy.targets"].tolist()]
    kept = [i for i, t in enumerate(tg) if t != -1]
    assert len(kept) == len(tg) - 1
    total = 0.0
    dl = [[0.0] * len(logits[0]) for _ in logits]
    for i in kept:
        m = max(logits[i])
        z = sum(math.exp(v - m) for v in logits[i])
        total += -(logits[i][tg[i]] - m - math.log(z))
        for j, v in enumerate(logits[i]):
            dl[i][j] = (math.exp(v - m) / z - (1.0 if j == tg[i] else 0.0)) / len(kept)
    report["cross_entropy.loss"] = close(d["cross_entropy.loss"], [total / len(kept)], 1e-6, "cross_entropy.loss")
    report["cross_entropy.dlogits"] = close(d["cross_entropy.dlogits"], dl, 1e-6, "cross_entropy.dlogits")
    return report


def f64_layernorm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + 1e-5) * w + b


def f64_model_loss(style, P, idx, targets):
    """Functional float64 forward from the saved parameter dict (names as in the file)."""
    c = MODEL_CFG
    B, T = idx.shape
    nh, C = c["n_head"], c["n_embd"]
    hs = C // nh
    if style == "nanogpt":
        wte = P["transformer.wte.weight"]
        x = wte[idx] + P["transformer.wpe.weight"][:T]
        for i in range(c["n_layer"]):
            p = "transformer.h.%d." % i
            h = f64_layernorm(x, P[p + "ln_1.weight"], P[p + "ln_1.bias"])
            qkv = h @ P[p + "attn.c_attn.weight"].T + P[p + "attn.c_attn.bias"]
            q, k, v = qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:]
            a = f64_attention(q, k, v, nh)
            x = x + a @ P[p + "attn.c_proj.weight"].T + P[p + "attn.c_proj.bias"]
            h = f64_layernorm(x, P[p + "ln_2.weight"], P[p + "ln_2.bias"])
            h = h @ P[p + "mlp.c_fc.weight"].T + P[p + "mlp.c_fc.bias"]
            h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))  # nn.GELU(), exact
            x = x + h @ P[p + "mlp.c_proj.weight"].T + P[p + "mlp.c_proj.bias"]
        x = f64_layernorm(x, P["transformer.ln_f.weight"], P["transformer.ln_f.bias"])
        logits = x @ wte.T
    else:
        x = P["token_embedding_table.weight"][idx] + P["position_embedding_table.weight"][:T]
        for i in range(c["n_layer"]):
            p = "blocks.%d." % i
            h = f64_layernorm(x, P[p + "ln1.weight"], P[p + "ln1.bias"])
            # assemble the per-head key/query/value into column blocks and reuse f64_attention
            q = torch.cat([h @ P[p + "sa.heads.%d.query.weight" % j].T for j in range(nh)], -1)
            k = torch.cat([h @ P[p + "sa.heads.%d.key.weight" % j].T for j in range(nh)], -1)
            v = torch.cat([h @ P[p + "sa.heads.%d.value.weight" % j].T for j in range(nh)], -1)
            a = f64_attention(q, k, v, nh)
            x = x + a @ P[p + "sa.proj.weight"].T + P[p + "sa.proj.bias"]
            h = f64_layernorm(x, P[p + "ln2.weight"], P[p + "ln2.bias"])
            h = torch.clamp(h @ P[p + "ffwd.net.0.weight"].T + P[p + "ffwd.net.0.bias"], min=0)
            x = x + h @ P[p + "ffwd.net.2.weight"].T + P[p + "ffwd.net.2.bias"]
        x = f64_layernorm(x, P["ln_f.weight"], P["ln_f.bias"])
        logits = x @ P["lm_head.weight"].T + P["lm_head.bias"]
    lp = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    loss = -lp.gather(-1, targets[..., None]).mean()
    return logits, loss


def cross_check_model(style, tensors, config):
    d = as_dict(tensors)
    names = [n[len("param."):] for n, _ in tensors if n.startswith("param.")]
    P = {n: d["param." + n].double().clone().requires_grad_(True) for n in names}
    idx = d["input.idx"].long()
    targets = d["input.targets"].long()
    logits, loss = f64_model_loss(style, P, idx, targets)
    loss.backward()
    report = {}
    report["logits"] = close(d["out.logits"], logits, 1e-5, style + " logits")
    report["loss"] = close(d["out.loss"], loss.reshape(1), 1e-5, style + " loss")
    gmax = 0.0
    for n in names:
        gmax = max(gmax, close(d["grad." + n], P[n].grad, 1e-5, style + " grad." + n))
    report["grads"] = gmax
    # global grad norm and clipping coefficient
    norm = math.sqrt(sum((d["grad." + n].double() ** 2).sum().item() for n in names))
    report["grad_norm"] = close(d["out.grad_norm"], [norm], 1e-6, style + " grad_norm")
    assert norm > config["grad_clip"]
    coef = min(1.0, config["grad_clip"] / (norm + 1e-6))
    # AdamW, first step, written out by hand (torch's form: eps added after the
    # bias-corrected sqrt(v)); decoupled weight decay on dim>=2 parameters only
    lr, b1, b2, eps = config["learning_rate"], config["beta1"], config["beta2"], config["eps"]
    amax = 0.0
    for n in names:
        p = d["param." + n].double()
        g = d["grad." + n].double() * coef
        wd = config["weight_decay"] if p.dim() >= 2 else 0.0
        m = (1 - b1) * g
        v = (1 - b2) * g * g
        mhat = m / (1 - b1)
        denom = torch.sqrt(v) / math.sqrt(1 - b2) + eps
        new = p * (1 - lr * wd) - lr * mhat / denom
        # per-element relative tolerance: the decoupled decay term lr*wd*p is ~1e-4 of p,
        # so it must be resolvable; a few float32 ulps of p plus a tiny absolute slack
        err = (d["after." + n].double() - new).abs()
        tol = 3e-7 * new.abs() + 1e-9
        if not bool((err <= tol).all()):
            raise AssertionError("%s after.%s: max err %g" % (style, n, err.max().item()))
        # and the check must be able to tell whether this parameter was decayed
        wrong = p * (1 - lr * (config["weight_decay"] - wd)) - lr * mhat / denom
        if bool(((d["after." + n].double() - wrong).abs() <= tol).all()):
            raise AssertionError("%s after.%s: cannot distinguish weight-decay groups" % (style, n))
        amax = max(amax, err.max().item())
    report["after"] = amax
    return report


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def expected_model_names(style):
    c = MODEL_CFG
    out = []
    if style == "nanogpt":
        out += ["transformer.wte.weight", "transformer.wpe.weight"]
        for i in range(c["n_layer"]):
            p = "transformer.h.%d." % i
            out += [p + "ln_1.weight", p + "ln_1.bias",
                    p + "attn.c_attn.weight", p + "attn.c_attn.bias",
                    p + "attn.c_proj.weight", p + "attn.c_proj.bias",
                    p + "ln_2.weight", p + "ln_2.bias",
                    p + "mlp.c_fc.weight", p + "mlp.c_fc.bias",
                    p + "mlp.c_proj.weight", p + "mlp.c_proj.bias"]
        out += ["transformer.ln_f.weight", "transformer.ln_f.bias"]
    else:
        out += ["token_embedding_table.weight", "position_embedding_table.weight"]
        for i in range(c["n_layer"]):
            p = "blocks.%d." % i
            for h in range(c["n_head"]):
                out += [p + "sa.heads.%d.%s.weight" % (h, w) for w in ("key", "query", "value")]
            out += [p + "sa.proj.weight", p + "sa.proj.bias",
                    p + "ffwd.net.0.weight", p + "ffwd.net.0.bias",
                    p + "ffwd.net.2.weight", p + "ffwd.net.2.bias",
                    p + "ln1.weight", p + "ln1.bias", p + "ln2.weight", p + "ln2.bias"]
        out += ["ln_f.weight", "ln_f.bias", "lm_head.weight", "lm_head.bias"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nanogpt", required=True, metavar="REPO",
                    help="nanoGPT's git repository (a bare mirror or a checkout): its model.py at HEAD is used")
    ap.add_argument("--lecture", required=True, metavar="REPO",
                    help="the lecture's git repository (ng-video-lecture): its gpt.py at HEAD is used")
    ap.add_argument("--check", action="store_true",
                    help="do not write; regenerate in memory and verify the files on disk match byte for byte")
    ap.add_argument("--out", default=FIXTURES, help="output directory (default: test/fixtures)")
    args = ap.parse_args()

    nanogpt, nanogpt_source, nanogpt_origin = load_nanogpt(args.nanogpt)
    lecture, lecture_origin = load_lecture(args.lecture, MODEL_CFG["vocab_size"])
    refs = {"nanogpt": nanogpt, "nanogpt_source": nanogpt_source, "lecture": lecture,
            "origin": {"nanogpt": nanogpt_origin, "lecture": lecture_origin}}

    fixtures = []
    ops_tensors, ops_config = build_ops()
    fixtures.append(("ops.safetensors", ops_tensors, ops_config))
    model_info = {}
    for style, seed in (("nanogpt", 1337), ("lecture", 1338)):
        tensors, config, names = build_model_fixture(style, seed, refs)
        assert names == expected_model_names(style), (style, names)
        fixtures.append(("parity_%s.safetensors" % style, tensors, config))
        model_info[style] = (tensors, config)
    gpt2_files, gpt2_expected, gpt2_config, gpt2_agreement = build_gpt2_tiny(refs)
    fixtures.append(("gpt2_tiny_logits.safetensors", gpt2_expected, gpt2_config))
    raw_files = gpt2_files + [("erf_reference.json", erf_reference())]

    # independent cross-checks of the conventions
    ops_report = cross_check_ops(ops_tensors)
    model_reports = {s: cross_check_model(s, t, c) for s, (t, c) in model_info.items()}

    failed = False
    print("%-30s %9s %8s  %s" % ("file", "bytes", "tensors", "sha256"))
    outputs = []
    for fname, tensors, config in fixtures:
        data = encode_safetensors(tensors, config)
        n = check_roundtrip(data, tensors, config)
        if len(data) > 300 * 1024:
            raise AssertionError("%s is %d bytes (> 300 KB)" % (fname, len(data)))
        outputs.append((fname, data, n, (tensors, config)))
    outputs += [(fname, data, "-", None) for fname, data in raw_files]
    for fname, data, n, parts in outputs:
        path = os.path.join(args.out, fname)
        if args.check:
            try:
                with open(path, "rb") as f:
                    disk = f.read()
            except FileNotFoundError:
                disk = None
            if disk != data:
                failed = True
                print("MISMATCH: %s differs from the regenerated fixture" % path)
            elif parts is not None:
                check_roundtrip(disk, *parts)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            if parts is not None:
                with open(path, "rb") as f:  # re-read from disk with the independent reader
                    check_roundtrip(f.read(), *parts)
        print("%-30s %9d %8s  %s" % (fname, len(data), n, hashlib.sha256(data).hexdigest()))

    print()
    for style, origin in refs["origin"].items():
        print("%s: %s at commit %s (%s)" % (style, origin["file"], origin["commit"], origin["repository"]))
    print("gpt2_tiny: GPT-2's forward with the exact GELU against model.py: max abs diff %.3g" % gpt2_agreement)
    print()
    print("ops cross-checks (max abs err vs independent float64 computation):")
    for k, v in ops_report.items():
        print("  %-28s %.3g" % (k, v))
    for style, (tensors, config) in model_info.items():
        d = as_dict(tensors)
        print()
        print("%s: loss %.7f  grad_norm %.7f  grad_clip %g" % (
            style, d["out.loss"].item(), d["out.grad_norm"].item(), config["grad_clip"]))
        print("  params: %d tensors, %d values" % (
            sum(1 for n, _ in tensors if n.startswith("param.")),
            sum(t.numel() for n, t in tensors if n.startswith("param."))))
        for k, v in model_reports[style].items():
            print("  cross-check %-10s max abs err %.3g" % (k, v))
    if failed:
        sys.exit(1)
    print()
    print("OK" + (" (files on disk match)" if args.check else ""))


if __name__ == "__main__":
    main()
