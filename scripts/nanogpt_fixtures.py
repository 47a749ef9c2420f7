#!/usr/bin/python3
"""
Fixtures for tsgpt's nanoGPT export and import (test/fixtures/nanogpt/), made with nanoGPT's own train.py and
Debian's PyTorch, and a check of both directions against nanoGPT's real train.py and sample.py.

    /usr/bin/python3 scripts/nanogpt_fixtures.py --nanogpt /tmp/nanogpt-check            # fixtures + checks
    /usr/bin/python3 scripts/nanogpt_fixtures.py --nanogpt /tmp/nanogpt-check --check-only
    /usr/bin/python3 scripts/nanogpt_fixtures.py --nanogpt /tmp/nanogpt-check --gpt2-only --gpt2-vocab DIR   # step 6 alone

--nanogpt is a checkout of nanoGPT outside this repository (its code is run from there, never copied here):
    git -C <nanoGPT clone> worktree add /tmp/nanogpt-check
The checks need tsgpt built (npm run build). Run by hand, never in CI.

What it does:
 1. makes a tiny character dataset from the first 20,000 characters of Tiny Shakespeare, in data/<name>/ of a
    scratch folder, as nanoGPT's data/shakespeare_char/prepare.py makes one (train.bin, val.bin, meta.pkl:
    the same sorted vocabulary, 90/10 split and uint16 ids; written by this script, not copied);
 2. trains nanoGPT on it for 6 steps on the CPU (its train.py, unchanged) and keeps the ckpt.pt it saves
    (PyTorch 1.13: the state dict holds the causal masks attn.bias), and the same checkpoint with every name
    prefixed "_orig_mod." as torch.compile leaves them;
 3. writes expected.json: the SHA-256 of every tensor's float32 bytes, AdamW's steps, model_args, iter_num,
    best_val_loss, and nanoGPT's logits and loss on a fixed window (so a test can check that the imported model
    computes what nanoGPT's does);
 4. checks tsgpt -> nanoGPT: imports the checkpoint into tsgpt, exports it back (--pytorch 1), and requires
    every tensor, AdamW's state and the counters to come back bit for bit; then trains a small tsgpt run,
    exports it, resumes it with nanoGPT's train.py for a few steps and samples it with sample.py;
 5. checks nanoGPT -> tsgpt: tsgpt samples the imported run and resumes it with `tsgpt train --resume`;
 6. makes a checkpoint of GPT-2's vocabulary (ckpt_gpt2.pt, expected_gpt2.json): nanoGPT's model.py with its
    default vocab_size of 50304 (GPT-2's 50257 padded to a multiple of 64, as every nanoGPT run on GPT-2's
    tokens has) and nanoGPT's configure_optimizers, saved with train.py's keys; with --gpt2-vocab (a folder of
    GPT-2's encoder.json and vocab.bpe) it imports it into tsgpt, exports it back and checks nanoGPT's model.py
    computes the same logits from the export.

The GPT-2 checkpoint is kept small by two choices, since its embedding alone is 50304 x n_embd floats: n_embd
is 2 (one layer, one head), and the optimizer's state dict is taken before its first step (param_groups, no
moments: train.py saves only after a step, where AdamW's two moments would triple the file). In float32, as
train.py saves every model (its --dtype sets autocast, not the weights): 0.4 MB. The padding rows are the
random ones nanoGPT's init gives them, so a test sees them cut.

sample.py imports tiktoken at its top even for character models; Debian has no tiktoken, so a stand-in module
that refuses to be used is put on PYTHONPATH (a character model never calls it).
"""
import argparse
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, 'test', 'fixtures', 'nanogpt')
TSGPT = [shutil.which('node') or 'node', os.path.join(REPO, 'dist', 'src', 'cli', 'main.js')]
DATASET = 'tsgpt_fixture'
TRAIN_ARGS = [
    '--dataset=' + DATASET, '--device=cpu', '--compile=False', '--dtype=float32', '--n_layer=2', '--n_head=2',
    '--n_embd=8', '--block_size=16', '--batch_size=4', '--bias=True', '--dropout=0.0', '--max_iters=6',
    '--eval_interval=3', '--eval_iters=2', '--log_interval=1', '--learning_rate=0.01', '--warmup_iters=2',
    '--lr_decay_iters=6', '--min_lr=0.001', '--always_save_checkpoint=True',
]
WINDOW = 'First Citizen:\nBe'
GPT2_CONFIG = dict(n_layer=1, n_head=1, n_embd=2, block_size=8, bias=True, vocab_size=50304, dropout=0.0)
# 'First Citizen:\nBefore we proceed' in GPT-2's tokens (tiktoken's gpt2; the tests encode the text and compare).
GPT2_WINDOW_TEXT = 'First Citizen:\nBefore we proceed'
GPT2_WINDOW = [5962, 22307, 25, 198, 8421, 356, 5120]


def sha256_of(t):
    return hashlib.sha256(t.detach().to(torch.float32).contiguous().numpy().astype('<f4').tobytes()).hexdigest()


def prepare_dataset(root, text):
    """A character dataset as nanoGPT's prepare.py lays one out (its format, this script's code)."""
    folder = os.path.join(root, 'data', DATASET)
    os.makedirs(folder, exist_ok=True)
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    itos = {i: ch for i, ch in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    cut = int(len(text) * 0.9)
    ids[:cut].tofile(os.path.join(folder, 'train.bin'))
    ids[cut:].tofile(os.path.join(folder, 'val.bin'))
    with open(os.path.join(folder, 'meta.pkl'), 'wb') as f:
        pickle.dump({'vocab_size': len(chars), 'itos': itos, 'stoi': stoi}, f)
    with open(os.path.join(folder, 'input.txt'), 'w', encoding='utf-8') as f:
        f.write(text)
    return folder


def nanogpt_env(stub):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=stub)
    return env


def run(cmd, cwd, env=None):
    print('$', ' '.join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-3000:], r.stderr[-3000:])
        raise SystemExit(f'failed: {" ".join(cmd)}')
    return r.stdout + r.stderr


def nanogpt_scratch(nanogpt, root):
    """A scratch folder train.py and sample.py run in: their configurator beside them, their data under data/."""
    for name in ('configurator.py',):
        shutil.copy(os.path.join(nanogpt, name), os.path.join(root, name))
    stub = os.path.join(root, 'stub')
    os.makedirs(stub, exist_ok=True)
    with open(os.path.join(stub, 'tiktoken.py'), 'w') as f:
        f.write('def get_encoding(name):\n    raise RuntimeError("tiktoken stand-in: this check samples character models only")\n')
    return stub


def expected_values(ckpt, meta, nanogpt):
    sys.path.insert(0, nanogpt)
    from model import GPT, GPTConfig  # nanoGPT's model.py, from its checkout
    model = GPT(GPTConfig(**ckpt['model_args']))
    model.load_state_dict(ckpt['model'])
    model.eval()
    ids = [meta['stoi'][c] for c in WINDOW]
    x = torch.tensor([ids[:-1]])
    y = torch.tensor([ids[1:]])
    with torch.no_grad():
        # forward() without targets computes only the last position; with targets, all of them.
        logits, loss = model(x, y)
    names = {}
    opt = ckpt['optimizer']
    param_names = [n for n, _ in model.named_parameters()]
    decay = [n for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [n for n, p in model.named_parameters() if p.dim() < 2]
    order = decay + nodecay
    assert len(order) == len(param_names)
    for i, name in enumerate(order):
        s = opt['state'][i]
        names[name] = {'step': float(s['step']), 'exp_avg': sha256_of(s['exp_avg']), 'exp_avg_sq': sha256_of(s['exp_avg_sq'])}
    return {
        'model_args': ckpt['model_args'],
        'iter_num': ckpt['iter_num'],
        'best_val_loss': float(ckpt['best_val_loss']),
        'dataset': ckpt['config']['dataset'],
        'weights': {k: sha256_of(v) for k, v in ckpt['model'].items() if not k.endswith('.attn.bias')},
        'optimizer': names,
        'param_groups': [{k: v for k, v in g.items() if k != 'params'} for g in opt['param_groups']],
        'window': WINDOW,
        'logits': [round(float(v), 7) for v in logits[0].flatten()],
        'loss': float(loss),
        'torch': torch.__version__,
    }


def make_gpt2_fixture(nanogpt, char_ckpt):
    """A checkpoint of nanoGPT's model.py on GPT-2's padded vocabulary, with train.py's keys, and its logits."""
    sys.path.insert(0, nanogpt)
    from model import GPT, GPTConfig  # nanoGPT's model.py, from its checkout
    torch.manual_seed(1337)
    model = GPT(GPTConfig(**GPT2_CONFIG))
    optimizer = model.configure_optimizers(0.1, 6e-4, (0.9, 0.95), 'cpu')
    config = dict(char_ckpt['config'], dataset='shakespeare', n_layer=1, n_head=1, n_embd=2, block_size=8, bias=True)
    ckpt = {
        'model': model.state_dict(),
        'optimizer': optimizer.state_dict(),
        'model_args': dict(GPT2_CONFIG),
        'iter_num': 0,
        'best_val_loss': 1e9,
        'config': config,
    }
    torch.save(ckpt, os.path.join(FIXTURES, 'ckpt_gpt2.pt'))
    model.eval()
    with torch.no_grad():
        logits, _ = model(torch.tensor([GPT2_WINDOW]))
    last = logits[0, -1]
    real = last[:50257]
    top = torch.topk(real, 10)
    expected = {
        'model_args': GPT2_CONFIG,
        'window_text': GPT2_WINDOW_TEXT,
        'window': GPT2_WINDOW,
        'wte_rows_sha256': sha256_of(model.transformer.wte.weight[:50257]),
        'padding_rows_sha256': sha256_of(model.transformer.wte.weight[50257:]),
        # The last position's logits: GPT-2's ten most likely tokens, and the window's own ids.
        'top_ids': [int(i) for i in top.indices],
        'logits_at': {str(i): round(float(real[i]), 7) for i in list(top.indices.tolist()) + GPT2_WINDOW},
        'torch': torch.__version__,
    }
    with open(os.path.join(FIXTURES, 'expected_gpt2.json'), 'w') as f:
        json.dump(expected, f, indent=1)
        f.write('\n')


def check_gpt2_round_trip(nanogpt, root, vocab, text, env):
    """nanoGPT (50304 tokens) -> tsgpt (GPT-2's 50257) -> nanoGPT (50257): the same logits for every real token."""
    sys.path.insert(0, nanogpt)
    from model import GPT, GPTConfig
    run_dir, back = os.path.join(root, 'imported-gpt2'), os.path.join(root, 'back-gpt2')
    print(run(TSGPT + ['import', os.path.join(FIXTURES, 'ckpt_gpt2.pt'), run_dir, '--tokenizer', vocab, '--threads', '1'], root))
    print(run(TSGPT + ['export', '--to', 'nanogpt', run_dir, back, '--pytorch', '1', '--threads', '1'], root))
    assert not os.path.exists(os.path.join(back, 'meta.pkl'))
    models = []
    for path in (os.path.join(FIXTURES, 'ckpt_gpt2.pt'), os.path.join(back, 'ckpt.pt')):
        c = torch.load(path)
        m = GPT(GPTConfig(**c['model_args']))
        m.load_state_dict(c['model'])
        m.eval()
        models.append(m)
    assert models[1].config.vocab_size == 50257
    with torch.no_grad():
        a = models[0](torch.tensor([GPT2_WINDOW]))[0][0, -1, :50257]
        b = models[1](torch.tensor([GPT2_WINDOW]))[0][0, -1]
    assert torch.equal(a, b), float((a - b).abs().max())
    print(run(TSGPT + ['sample', '--from', run_dir, '--tokens', '10', '--threads', '1'], root))
    # train.py resumes the export on GPT-2's tokens of the text (tsgpt's ids, which equal tiktoken's), written as
    # data/shakespeare/prepare.py writes them. (sample.py needs tiktoken itself, which Debian does not have.)
    folder = os.path.join(root, 'data', 'gpt2_fixture')
    os.makedirs(folder, exist_ok=True)
    text_path = os.path.join(folder, 'input.txt')
    with open(text_path, 'w', encoding='utf-8') as f:
        f.write(text)
    r = subprocess.run(TSGPT + ['tokenize', '--tokenizer', vocab, '--json', text_path], capture_output=True, text=True, check=True)
    ids = np.array(json.loads(r.stdout)['ids'], dtype=np.uint16)
    cut = int(len(ids) * 0.9)
    ids[:cut].tofile(os.path.join(folder, 'train.bin'))
    ids[cut:].tofile(os.path.join(folder, 'val.bin'))
    log = run([sys.executable, os.path.join(nanogpt, 'train.py'), '--init_from=resume', '--out_dir=' + back, '--dataset=gpt2_fixture',
               '--device=cpu', '--compile=False', '--dtype=float32', '--batch_size=4', '--block_size=8', '--dropout=0.0',
               '--gradient_accumulation_steps=1', '--max_iters=4', '--eval_interval=2', '--eval_iters=2', '--log_interval=1',
               '--learning_rate=0.01', '--warmup_iters=1', '--lr_decay_iters=4', '--min_lr=0.001'], root, env)
    print('\n'.join(l for l in log.splitlines() if l.startswith(('step ', 'iter ', 'Resuming'))))
    print('GPT-2 vocabulary: nanoGPT (50304) -> tsgpt (50257) -> nanoGPT (50257): the same logits for every real token')


def tensors_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


def check_round_trip(original, exported):
    """tsgpt import then export must give back nanoGPT's checkpoint, tensor for tensor."""
    a, b = torch.load(original), torch.load(exported)
    for k, v in a['model'].items():
        assert tensors_equal(v, b['model'][k]), k
    assert set(a['model']) == set(b['model']), set(a['model']) ^ set(b['model'])
    sa, sb = a['optimizer']['state'], b['optimizer']['state']
    assert set(sa) == set(sb)
    for i in sa:
        for k in ('step', 'exp_avg', 'exp_avg_sq'):
            assert tensors_equal(sa[i][k], sb[i][k]), (i, k)
    for ga, gb in zip(a['optimizer']['param_groups'], b['optimizer']['param_groups']):
        for k in ('weight_decay', 'betas', 'eps', 'params'):
            assert ga[k] == gb[k], (k, ga[k], gb[k])
    assert a['model_args'] == b['model_args'] and a['iter_num'] == b['iter_num']
    assert abs(float(a['best_val_loss']) - float(b['best_val_loss'])) == 0
    print('round trip nanoGPT -> tsgpt -> nanoGPT: every tensor, AdamW state and counter equal')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nanogpt', required=True, help='a checkout of nanoGPT (outside this repository)')
    ap.add_argument('--data', default=os.path.join(REPO, '..', 'shared', 'data', 'tinyshakespeare.txt'))
    ap.add_argument('--check-only', action='store_true', help='run the checks on the committed fixtures')
    ap.add_argument('--gpt2-vocab', help="a folder of GPT-2's encoder.json and vocab.bpe, for the GPT-2 checks")
    ap.add_argument('--gpt2-only', action='store_true', help="make (unless --check-only) and check the GPT-2 fixture only")
    args = ap.parse_args()
    torch.set_num_threads(1)
    nanogpt = os.path.abspath(args.nanogpt)
    root = tempfile.mkdtemp(prefix='nanogpt-fixtures-')
    stub = nanogpt_scratch(nanogpt, root)
    env = nanogpt_env(stub)
    with open(args.data, encoding='utf-8') as f:
        text = f.read()[:20000]
    folder = prepare_dataset(root, text)
    train_py, sample_py = os.path.join(nanogpt, 'train.py'), os.path.join(nanogpt, 'sample.py')

    if args.gpt2_only:
        if not args.check_only:
            make_gpt2_fixture(nanogpt, torch.load(os.path.join(FIXTURES, 'ckpt.pt')))
        if args.gpt2_vocab is not None:
            check_gpt2_round_trip(nanogpt, root, os.path.abspath(args.gpt2_vocab), text, env)
        return

    if not args.check_only:
        out = os.path.join(root, 'out')
        log = run([sys.executable, train_py, '--out_dir=' + out] + TRAIN_ARGS, root, env)
        print('\n'.join(l for l in log.splitlines() if l.startswith('step ')))
        os.makedirs(FIXTURES, exist_ok=True)
        shutil.copy(os.path.join(out, 'ckpt.pt'), os.path.join(FIXTURES, 'ckpt.pt'))
        shutil.copy(os.path.join(folder, 'meta.pkl'), os.path.join(FIXTURES, 'meta.pkl'))
        ckpt = torch.load(os.path.join(FIXTURES, 'ckpt.pt'))
        compiled = dict(ckpt, model={'_orig_mod.' + k: v for k, v in ckpt['model'].items()})
        torch.save(compiled, os.path.join(FIXTURES, 'ckpt_compiled.pt'))
        with open(os.path.join(FIXTURES, 'meta.pkl'), 'rb') as f:
            meta = pickle.load(f)
        expected = expected_values(ckpt, meta, nanogpt)
        with open(os.path.join(FIXTURES, 'expected.json'), 'w') as f:
            json.dump(expected, f, indent=1)
            f.write('\n')
        make_gpt2_fixture(nanogpt, ckpt)
        for name in sorted(os.listdir(FIXTURES)):
            p = os.path.join(FIXTURES, name)
            print(f'{name}: {os.path.getsize(p)} bytes, sha256 {hashlib.sha256(open(p, "rb").read()).hexdigest()[:16]}')

    # nanoGPT -> tsgpt -> nanoGPT, bit for bit.
    run_dir, back = os.path.join(root, 'imported'), os.path.join(root, 'back')
    print(run(TSGPT + ['import', os.path.join(FIXTURES, 'ckpt.pt'), run_dir, '--data-dir', os.path.join(root, 'data'), '--threads', '1'], root))
    run(TSGPT + ['export', '--to', 'nanogpt', run_dir, back, '--pytorch', '1', '--dataset', DATASET, '--threads', '1'], root)
    check_round_trip(os.path.join(FIXTURES, 'ckpt.pt'), os.path.join(back, 'ckpt.pt'))
    # tsgpt samples and resumes the imported run.
    print(run(TSGPT + ['sample', '--from', run_dir, '--tokens', '60', '--threads', '1'], root))
    print(run(TSGPT + ['train', '--resume', run_dir, '--max-iters', '9', '--threads', '1'], root)[-600:])

    # A run trained by tsgpt, exported, resumed by nanoGPT's train.py and sampled by its sample.py.
    tsgpt_run, exported = os.path.join(root, 'tsgpt-run'), os.path.join(root, 'exported')
    run(TSGPT + ['train', '--preset', 'baby', '--n-layer', '2', '--n-head', '2', '--n-embd', '16', '--block-size', '16',
                 '--batch-size', '4', '--max-iters', '10', '--eval-interval', '5', '--eval-iters', '2',
                 '--data', os.path.join(folder, 'input.txt'), '--out', tsgpt_run, '--threads', '1'], root)
    print(run(TSGPT + ['export', '--to', 'nanogpt', tsgpt_run, exported, '--pytorch', '1', '--dataset', DATASET, '--threads', '1'], root))
    log = run([sys.executable, train_py, '--init_from=resume', '--out_dir=' + exported, '--dataset=' + DATASET, '--device=cpu',
               '--compile=False', '--dtype=float32', '--block_size=16', '--batch_size=4', '--dropout=0.0', '--max_iters=14',
               '--eval_interval=5', '--eval_iters=2', '--learning_rate=0.001', '--warmup_iters=100', '--lr_decay_iters=2000',
               '--min_lr=0.0001', '--beta2=0.99'], root, env)
    print('\n'.join(l for l in log.splitlines() if l.startswith(('step ', 'iter ', 'Resuming'))))
    print(run([sys.executable, sample_py, '--out_dir=' + exported, '--device=cpu', '--dtype=float32', '--num_samples=1',
               '--max_new_tokens=60'], root, env)[-400:])
    if args.gpt2_vocab is not None:
        check_gpt2_round_trip(nanogpt, root, os.path.abspath(args.gpt2_vocab), text, env)
    print('all checks passed; scratch folder', root)


if __name__ == '__main__':
    main()
