/**
 * nanoGPT's checkpoints, read and written without PyTorch: the stored zip, the restricted unpickler and the
 * pickle writer; a real ckpt.pt of nanoGPT's train.py (test/fixtures/nanogpt, made by
 * scripts/nanogpt_fixtures.py) imported tensor for tensor, computing nanoGPT's logits; the export of that import
 * giving back the same checkpoint bit for bit, in the structure nanoGPT's own has; meta.pkl both ways; the
 * padding rows of a GPT-2 vocabulary cut; and checkpoints that are wrong, each refused in one line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noGrad } from '../../src/engine/autograd.js';
import { Rng } from '../../src/engine/random.js';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import { TsgptError } from '../../src/errors.js';
import { crc32 } from '../../src/io/crc32.js';
import { type PyTuple, unpickle } from '../../src/io/pickle.js';
import { pickle, py } from '../../src/io/pickle_write.js';
import { decodeTorchFile, type TorchTensor } from '../../src/io/torch_file.js';
import { decodeStoredZip, encodeStoredZip } from '../../src/io/zip.js';
import { encodeNanoGptCheckpoint } from '../../src/checkpoint/nanogpt_export.js';
import { buildNanoGptRun, type NanoGptCheckpoint, parseNanoGptCheckpoint } from '../../src/checkpoint/nanogpt_import.js';
import { decodeNanoGptMeta, encodeNanoGptMeta } from '../../src/checkpoint/nanogpt_meta.js';
import { RUN_FORMAT, RUN_FORMAT_VERSION, type RunFile } from '../../src/checkpoint/run_config.js';
import { createModel, type GPTConfig } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { AdamW } from '../../src/train/adamw.js';
import { EXPECTED, encodeCheckpoint, fixtureBytes, fixtureText, sha256OfFloats, withPickle } from '../helpers/nanogpt_fixture.js';

const meta = () => decodeNanoGptMeta(fixtureBytes('meta.pkl'), 'meta.pkl');

/** Runs `fn` and returns the TsgptError's message, failing the test on success or on any other error. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TsgptError, `not a TsgptError: ${(e as Error)?.stack}`);
    assert.ok(!e.message.includes('\n'), `a message of several lines: ${e.message}`);
    return e.message;
  }
  assert.fail('expected a refusal');
}

test('zip: stored entries round-trip, each aligned to 64, and a flipped byte fails its CRC-32', () => {
  const entries = [
    { name: 'ckpt/data.pkl', bytes: new Uint8Array([1, 2, 3]) },
    { name: 'ckpt/data/0', bytes: new Uint8Array(1000).map((_, i) => i * 7) },
    { name: 'ckpt/version', bytes: new TextEncoder().encode('3\n') },
  ];
  const bytes = encodeStoredZip(entries);
  const zip = decodeStoredZip(bytes, 'x.zip');
  assert.deepEqual(zip.names, ['ckpt/data.pkl', 'ckpt/data/0', 'ckpt/version']);
  for (const e of entries) {
    const read = zip.read(e.name);
    assert.deepEqual([...read], [...e.bytes]);
    assert.equal(read.byteOffset % 64, 0, `${e.name} is not aligned`);
  }
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926); // the standard check value
  const flipped = bytes.slice();
  flipped[zip.read('ckpt/data/0').byteOffset + 10]! ^= 1;
  assert.match(
    refusal(() => decodeStoredZip(flipped, 'x.zip').read('ckpt/data/0')),
    /x\.zip: entry "ckpt\/data\/0" does not match its CRC-32/,
  );
  assert.match(
    refusal(() => decodeStoredZip(bytes.subarray(0, 200), 'x.zip')),
    /not a zip archive/,
  );
});

test('pickle: the writer and the reader agree on every kind of value', () => {
  const value = py.record({
    none: null,
    yes: true,
    no: false,
    small: py.int(7),
    medium: py.int(40000),
    negative: py.int(-5),
    big: py.int(2 ** 40 + 3),
    bigNegative: py.int(-(2 ** 40)),
    float: py.float(0.1),
    text: 'héllo 😀',
    tuple: py.tuple(py.int(1), py.int(2), py.int(3), py.int(4)),
    pair: py.tuple(py.int(1), 'a'),
    list: py.list(Array.from({ length: 2500 }, (_, i) => py.int(i))),
    nested: py.dict([[py.int(3), py.list([])]]),
  });
  const v = unpickle(pickle(value), { label: 'p', globals: {} }) as Map<string, unknown>;
  assert.equal(v.get('none'), null);
  assert.equal(v.get('yes'), true);
  assert.equal(v.get('no'), false);
  assert.equal(v.get('small'), 7);
  assert.equal(v.get('medium'), 40000);
  assert.equal(v.get('negative'), -5);
  assert.equal(v.get('big'), 2 ** 40 + 3);
  assert.equal(v.get('bigNegative'), -(2 ** 40));
  assert.equal(v.get('float'), 0.1);
  assert.equal(v.get('text'), 'héllo 😀');
  assert.deepEqual((v.get('tuple') as PyTuple).items, [1, 2, 3, 4]);
  assert.deepEqual((v.get('pair') as PyTuple).items, [1, 'a']);
  assert.deepEqual(
    v.get('list'),
    Array.from({ length: 2500 }, (_, i) => i),
  );
  assert.deepEqual([...(v.get('nested') as Map<number, unknown>)], [[3, []]]);
});

test('pickle: a global that is not allowed is refused by name, and nothing is run', () => {
  const enc = (s: string) => [...new TextEncoder().encode(s)];
  // The classic exploit: os.system("echo pwned") by GLOBAL and REDUCE.
  const system = new Uint8Array([0x80, 2, 0x63, ...enc('os\nsystem\n'), 0x58, 11, 0, 0, 0, ...enc('echo pwned'), 0x85, 0x52, 0x2e]);
  assert.match(
    refusal(() => unpickle(system, { label: 'evil.pkl', globals: {} })),
    /evil\.pkl: the pickle names the global "os\.system", which a checkpoint does not need; refused/,
  );
  // builtins.eval through protocol 4's STACK_GLOBAL.
  const evalPickle = new Uint8Array([
    0x80,
    4,
    0x8c,
    8,
    ...enc('builtins'),
    0x8c,
    4,
    ...enc('eval'),
    0x93,
    0x8c,
    1,
    ...enc('1'),
    0x85,
    0x52,
    0x2e,
  ]);
  assert.match(
    refusal(() => unpickle(evalPickle, { label: 'evil.pkl', globals: {} })),
    /"builtins\.eval"/,
  );
  // An allowed global that has no call cannot be called.
  const storage = new Uint8Array([0x80, 2, 0x63, ...enc('torch\nFloatStorage\n'), 0x29, 0x52, 0x2e]);
  assert.match(
    refusal(() => unpickle(storage, { label: 's', globals: { 'torch.FloatStorage': {} } })),
    /REDUCE calls something that is not an allowed callable/,
  );
});

test('pickle: bounds (truncation, lengths past the end, memo misses, odd opcodes) end in one line', () => {
  const cases: [number[], RegExp][] = [
    [[0x80, 2, 0x58, 0xf0, 0xff, 0xff, 0xff, 0x2e], /a length of 4294967280 runs past the end/],
    [[0x80, 2, 0x4a, 1], /truncated/],
    [[0x80, 2, 0x68, 5, 0x2e], /memo entry 5 is read before it is written/],
    [[0x80, 2, 0x8a, 200, 0x2e], /an integer of 200 bytes/],
    [[0x80, 2, 0x69, 0x2e], /opcode 0x69 is not one a checkpoint needs/],
    [[0x80, 9, 0x2e], /protocol 9 is not supported/],
    [[0x80, 2, 0x4e, 0x4e, 0x2e], /stops with its stack in disorder/],
    [[0x80, 2, 0x4e, 0x51, 0x2e], /persistent id/],
    [[0x80, 2, 0x7d, 0x5d, 0x4e, 0x73, 0x2e], /not a string or an integer/],
    [[0x80, 2, 0x74, 0x2e], /needs a mark/],
    [[], /truncated/],
  ];
  for (const [bytes, pattern] of cases)
    assert.match(
      refusal(() => unpickle(new Uint8Array(bytes), { label: 'p', globals: {} })),
      pattern,
    );
  // 200,000 nested lists: built without recursion, so depth costs only what its bytes do.
  const depth = 200_000;
  const nested = new Uint8Array(2 + depth + depth + 2);
  nested.set([0x80, 2]);
  nested.fill(0x5d, 2, 2 + depth); // EMPTY_LIST
  nested.fill(0x61, 2 + depth, 2 + 2 * depth - 1); // APPEND, each list into the one below
  nested.set([0x2e], 2 + 2 * depth - 1);
  let v = unpickle(nested.subarray(0, 2 + 2 * depth), { label: 'p', globals: {} }) as unknown[];
  let levels = 1;
  while (v.length > 0) {
    v = v[0] as unknown[];
    levels++;
  }
  assert.equal(levels, depth);
});

test("a real nanoGPT ckpt.pt: every tensor is nanoGPT's, bit for bit, and the imported model computes its logits", () => {
  const ckpt = parseNanoGptCheckpoint(fixtureBytes('ckpt.pt'), 'ckpt.pt');
  const e = EXPECTED;
  assert.deepEqual(ckpt.modelArgs, {
    nLayer: e.model_args.n_layer,
    nHead: e.model_args.n_head,
    nEmbd: e.model_args.n_embd,
    blockSize: e.model_args.block_size,
    bias: e.model_args.bias,
    vocabSize: e.model_args.vocab_size,
    dropout: e.model_args.dropout,
  });
  assert.equal(ckpt.iterNum, e.iter_num);
  assert.equal(ckpt.bestValLoss, Math.fround(e.best_val_loss));
  assert.equal(ckpt.dataset, e.dataset);
  assert.match(ckpt.notes.join('; '), /2 causal mask/);
  const run = buildNanoGptRun(ckpt, meta().vocabSize, 'ckpt.pt');
  try {
    const params = run.model.namedParameters();
    assert.deepEqual(
      params.map(([n]) => n),
      Object.keys(e.weights).filter((n) => n !== 'lm_head.weight'),
    );
    for (const [name, t] of params) assert.equal(sha256OfFloats(t.data), e.weights[name], name);
    assert.equal(e.weights['lm_head.weight'], e.weights['transformer.wte.weight']);
    for (const s of run.optimizer.states) {
      assert.equal(sha256OfFloats(s.m.data), e.optimizer[s.name]!.exp_avg, s.name);
      assert.equal(sha256OfFloats(s.v.data), e.optimizer[s.name]!.exp_avg_sq, s.name);
    }
    assert.equal(run.state.optimizerStep, e.optimizer['transformer.wte.weight']!.step);
    assert.equal(run.state.step, e.iter_num);
    assert.equal(run.run.weightDecay, e.param_groups[0]!.weight_decay);
    assert.deepEqual([run.run.beta1, run.run.beta2], e.param_groups[0]!.betas);
    assert.equal(run.run.learningRate, 0.01);
    assert.equal(run.run.maxIters, 6);

    // nanoGPT's logits on the fixture's window: equal up to GELU's tanh approximation against nanoGPT's exact one.
    const tokenizer = meta();
    const ids = tokenizer.encode(e.window);
    run.model.eval();
    const { logits, loss } = tidy(() =>
      noGrad(() => {
        const out = run.model.forward(intTensor(ids.subarray(0, -1), [1, ids.length - 1]), intTensor(ids.subarray(1), [1, ids.length - 1]));
        return { logits: out.logits.data.slice(), loss: out.loss!.item() };
      }),
    );
    assert.equal(logits.length, e.logits.length);
    const worst = Math.max(...e.logits.map((x, i) => Math.abs(x - logits[i]!)));
    assert.ok(worst < 2e-4, `logits differ from nanoGPT's by up to ${worst}`);
    assert.ok(Math.abs(loss - e.loss) < 1e-4, `loss ${loss} against nanoGPT's ${e.loss}`);
  } finally {
    run.model.dispose();
    run.optimizer.dispose();
  }
});

test('torch.compile\'s "_orig_mod." names read as the plain ones', () => {
  const plain = parseNanoGptCheckpoint(fixtureBytes('ckpt.pt'), 'ckpt.pt');
  const compiled = parseNanoGptCheckpoint(fixtureBytes('ckpt_compiled.pt'), 'ckpt_compiled.pt');
  assert.deepEqual([...compiled.weights.keys()], [...plain.weights.keys()]);
  for (const [name, t] of plain.weights) assert.deepEqual(compiled.weights.get(name)!.data, t.data);
  assert.match(compiled.notes.join('; '), /_orig_mod\./);
});

/** The fixture, imported and exported again. */
function reexport(pytorch: 1 | 2): { original: Map<string, unknown>; exported: Map<string, unknown> } {
  const ckpt = parseNanoGptCheckpoint(fixtureBytes('ckpt.pt'), 'ckpt.pt');
  const tokenizer = meta();
  const run = buildNanoGptRun(ckpt, tokenizer.vocabSize, 'ckpt.pt');
  try {
    run.optimizer.step = run.state.optimizerStep;
    const file: RunFile = {
      format: RUN_FORMAT,
      version: RUN_FORMAT_VERSION,
      model: run.modelConfig,
      tokenizer: tokenizer.toJSON(),
      run: run.run,
      data: 'input.txt',
      training: { ...run.state, trainLoss: null, valLoss: run.state.bestValLoss },
    };
    const bytes = encodeNanoGptCheckpoint({
      file,
      model: run.model,
      optimizer: run.optimizer,
      state: run.state,
      dataset: ckpt.dataset!,
      outDir: 'out',
      pytorch,
    });
    return {
      original: decodeTorchFile(fixtureBytes('ckpt.pt'), 'ckpt.pt') as Map<string, unknown>,
      exported: decodeTorchFile(bytes, 'exported') as Map<string, unknown>,
    };
  } finally {
    run.model.dispose();
    run.optimizer.dispose();
  }
}

const get = (m: unknown, ...path: (string | number)[]): unknown => path.reduce<unknown>((v, k) => (v as Map<unknown, unknown>).get(k), m);
const tensorOf = (v: unknown) => v as TorchTensor;

test("export of an import gives nanoGPT's checkpoint back, bit for bit, in nanoGPT's structure", () => {
  const { original, exported } = reexport(1);
  const a = get(original, 'model') as Map<string, TorchTensor>;
  const b = get(exported, 'model') as Map<string, TorchTensor>;
  assert.deepEqual([...b.keys()], [...a.keys()], 'the state dict lists the same names in the same order');
  for (const [name, t] of a) {
    assert.deepEqual(b.get(name)!.shape, t.shape, name);
    assert.deepEqual(b.get(name)!.data, t.data, name);
  }
  assert.equal(b.get('lm_head.weight')!.data.buffer, b.get('transformer.wte.weight')!.data.buffer, 'lm_head shares the embedding storage');
  const sa = get(original, 'optimizer', 'state') as Map<number, Map<string, TorchTensor>>;
  const sb = get(exported, 'optimizer', 'state') as Map<number, Map<string, TorchTensor>>;
  assert.deepEqual([...sb.keys()], [...sa.keys()]);
  for (const [id, s] of sa) {
    assert.deepEqual([...sb.get(id)!.keys()], [...s.keys()]);
    for (const [k, t] of s) {
      assert.deepEqual(tensorOf(sb.get(id)!.get(k)).shape, t.shape, `${id}.${k}`);
      assert.deepEqual(tensorOf(sb.get(id)!.get(k)).data, t.data, `${id}.${k}`);
    }
  }
  // PyTorch adds to each parameter's step in place: one shared storage would count every step many times.
  const steps = new Set([...sb.values()].map((s) => s.get('step')!.data.buffer));
  assert.equal(steps.size, sb.size, 'each step tensor has a storage of its own');
  const groupsA = get(original, 'optimizer', 'param_groups') as Map<string, unknown>[];
  const groupsB = get(exported, 'optimizer', 'param_groups') as Map<string, unknown>[];
  assert.equal(groupsB.length, 2);
  groupsA.forEach((g, i) => {
    for (const [k, v] of g) {
      if (k === 'lr') continue; // train.py sets it from the schedule before every step
      assert.deepEqual(groupsB[i]!.get(k), v, `param_groups[${i}].${k}`);
    }
  });
  assert.deepEqual([...(get(exported, 'model_args') as Map<string, unknown>)], [...(get(original, 'model_args') as Map<string, unknown>)]);
  assert.equal(get(exported, 'iter_num'), get(original, 'iter_num'));
  assert.equal(get(exported, 'best_val_loss'), tensorOf(get(original, 'best_val_loss')).data[0]);
  const configA = get(original, 'config') as Map<string, unknown>;
  const configB = get(exported, 'config') as Map<string, unknown>;
  assert.deepEqual([...configB.keys()], [...configA.keys()], "train.py's config, key for key");
  for (const key of ['dataset', 'batch_size', 'block_size', 'learning_rate', 'max_iters', 'warmup_iters', 'min_lr', 'grad_clip']) {
    assert.equal(configB.get(key), configA.get(key), key);
  }
  // For PyTorch 2, nanoGPT's state dict has no masks.
  const two = get(reexport(2).exported, 'model') as Map<string, unknown>;
  assert.deepEqual(
    [...two.keys()],
    [...a.keys()].filter((n) => !n.endsWith('.attn.bias')),
  );
});

test("meta.pkl: Python's (protocol 4) reads as the vocabulary of its text; tsgpt's round-trips; bad ones are refused", () => {
  const text = fixtureText();
  assert.deepEqual(meta().chars, CharTokenizer.fromText(text).chars);
  const odd = new CharTokenizer(['z', '😀', '\n', 'é']);
  assert.deepEqual(decodeNanoGptMeta(encodeNanoGptMeta(odd), 'm').chars, odd.chars);
  const write = (itos: [number, string][], extra: Record<string, ReturnType<typeof py.int>> = {}) =>
    pickle(py.record({ itos: py.dict(itos.map(([i, c]) => [py.int(i), c])), ...extra }));
  const bad: [Uint8Array, RegExp][] = [
    [pickle(py.list([])), /holds an array, not a dictionary/],
    [pickle(py.record({ stoi: py.dict([]) })), /its itos is nothing/],
    [
      write([
        [0, 'a'],
        [2, 'b'],
      ]),
      /itos has 2 entries but no id 1/,
    ],
    [write([[0, 'ab']]), /itos\[0\] is "ab", not a single character/],
    [
      write([
        [0, 'a'],
        [1, 'a'],
      ]),
      /itos gives "a" two ids, 0 and 1/,
    ],
    [write([[0, 'a']], { vocab_size: py.int(3) }), /vocab_size is 3 but itos holds 1/],
    [pickle(py.record({ itos: py.dict([[py.int(0), 'a']]), stoi: py.dict([['a', py.int(1)]]) })), /stoi is not the inverse/],
    [pickle(py.record({ itos: py.dict([]) })), /itos is empty/],
  ];
  for (const [bytes, pattern] of bad)
    assert.match(
      refusal(() => decodeNanoGptMeta(bytes, 'meta.pkl')),
      pattern,
    );
});

test("GPT-2's padded vocabulary: the rows nanoGPT adds past 50257 are cut from the embedding and its moments", () => {
  const padded: GPTConfig = {
    kind: 'gpt',
    style: 'nanogpt',
    vocabSize: 50304,
    blockSize: 4,
    nLayer: 1,
    nHead: 1,
    nEmbd: 4,
    dropout: 0,
    bias: false,
  };
  const source = createModel(padded, new Rng(5));
  const opt = new AdamW(source.namedParameters(), { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  try {
    opt.states.forEach((s, i) => {
      s.m.data.fill(i + 1);
      s.v.data.fill(i + 2);
    });
    const decayed = opt.states.filter((s) => s.decay);
    const kept = opt.states.filter((s) => !s.decay);
    const ckpt: NanoGptCheckpoint = {
      modelArgs: { nLayer: 1, nHead: 1, nEmbd: 4, blockSize: 4, bias: false, vocabSize: 50304, dropout: 0 },
      weights: new Map(source.namedParameters().map(([n, t]) => [n, { shape: t.shape, data: t.data }])),
      optimizer: {
        state: new Map(
          [...decayed, ...kept].map((s, id) => [
            id,
            { step: 3, expAvg: { shape: s.m.shape, data: s.m.data }, expAvgSq: { shape: s.v.shape, data: s.v.data } },
          ]),
        ),
        groups: [
          { params: decayed.map((_, i) => i), weightDecay: 0.1, betas: [0.9, 0.95] },
          { params: kept.map((_, i) => decayed.length + i), weightDecay: 0, betas: [0.9, 0.95] },
        ],
      },
      iterNum: 3,
      bestValLoss: null,
      config: null,
      dataset: null,
      notes: [],
    };
    const run = buildNanoGptRun(ckpt, 50257, 'gpt2.pt');
    try {
      const wte = run.model.namedParameters()[0]![1];
      assert.deepEqual(wte.shape, [50257, 4]);
      assert.deepEqual(wte.data, source.namedParameters()[0]![1].data.subarray(0, 50257 * 4));
      const m = run.optimizer.states[0]!;
      assert.deepEqual(m.m.shape, [50257, 4]);
      assert.ok(m.m.data.every((x) => x === 1) && m.v.data.every((x) => x === 2));
      assert.equal(run.state.optimizerStep, 3);
      assert.equal(run.run.maxIters, 600000, "train.py's defaults stand in for a checkpoint without a config");
    } finally {
      run.model.dispose();
      run.optimizer.dispose();
    }
  } finally {
    source.dispose();
    opt.dispose();
  }
});

test('checkpoints that are wrong are refused in one line naming the problem', () => {
  const decoded = () => decodeTorchFile(fixtureBytes('ckpt.pt'), 'ckpt.pt') as Map<string, unknown>;
  const load = (bytes: Uint8Array) => {
    const ckpt = parseNanoGptCheckpoint(bytes, 'bad.pt');
    const run = buildNanoGptRun(ckpt, ckpt.modelArgs.vocabSize, 'bad.pt');
    run.model.dispose();
    run.optimizer.dispose();
  };
  const edited = (edit: (root: Map<string, unknown>) => void) => {
    const root = decoded();
    edit(root);
    return encodeCheckpoint(root as Map<string | number, unknown>);
  };
  // The unchanged fixture, written again by the test's writer, loads: the edits are what is refused.
  load(edited(() => {}));
  const cases: [Uint8Array, RegExp][] = [
    [
      edited((r) => (get(r, 'model_args') as Map<string, unknown>).set('vocab_size', 50)),
      /bad\.pt: state dict: transformer\.wte\.weight has shape \[58,8\], the model expects \[50,8\]/,
    ],
    [
      edited((r) => (get(r, 'model_args') as Map<string, unknown>).set('bias', false)),
      /bad\.pt: state dict: tensors the model does not have: transformer\.h\.0\.ln_1\.bias/,
    ],
    [
      edited((r) => (get(r, 'model_args') as Map<string, unknown>).set('n_embd', 16)),
      /model_args describe a model of at least 2720 parameters but its state dict holds 2352 values/,
    ],
    [
      edited((r) => (get(r, 'model_args') as Map<string, unknown>).set('n_layer', 3)),
      /bad\.pt: state dict: missing 12 of nanoGPT's parameters/,
    ],
    [
      edited((r) => (get(r, 'model_args') as Map<string, unknown>).set('n_embd', 4096)),
      /at least \d+ parameters but its state dict holds \d+ values/,
    ],
    [edited((r) => (get(r, 'model_args') as Map<string, unknown>).set('n_head', 3)), /n_embd \(8\) must be divisible by n_head \(3\)/],
    [edited((r) => (get(r, 'model_args') as Map<string, unknown>).delete('bias')), /model_args has no bias/],
    [
      edited((r) => {
        const sd = get(r, 'model') as Map<string, TorchTensor>;
        const head = sd.get('lm_head.weight')!;
        const data = head.data.slice();
        data[0]! += 1;
        sd.set('lm_head.weight', { shape: head.shape, data });
      }),
      /lm_head\.weight differs from transformer\.wte\.weight: an untied output head/,
    ],
    [
      edited((r) => {
        const sd = get(r, 'model') as Map<string, TorchTensor>;
        const mask = sd.get('transformer.h.0.attn.bias')!;
        const data = mask.data.slice();
        data[1] = 1;
        sd.set('transformer.h.0.attn.bias', { shape: mask.shape, data });
      }),
      /transformer\.h\.0\.attn\.bias is not a causal mask \(at row 0, column 1\)/,
    ],
    [
      edited((r) => (get(r, 'model') as Map<string, unknown>).set('transformer.h.0.attn.extra', { shape: [1], data: new Float32Array(1) })),
      /tensors the model does not have: transformer\.h\.0\.attn\.extra/,
    ],
    [
      edited((r) => (get(r, 'optimizer', 'param_groups') as Map<string, unknown>[])[0]!.set('eps', 1e-6)),
      /param_groups\[0\]\.eps is 0\.000001; tsgpt's AdamW uses 1e-8/,
    ],
    [
      edited((r) => (get(r, 'optimizer', 'param_groups') as Map<string, unknown>[])[0]!.set('amsgrad', true)),
      /amsgrad is true; tsgpt's AdamW has no amsgrad/,
    ],
    [edited((r) => (get(r, 'optimizer', 'param_groups') as Map<string, unknown>[]).reverse()), /param_groups are not nanoGPT's/],
    [
      edited((r) => (get(r, 'optimizer', 'param_groups') as Map<string, unknown>[])[1]!.set('weight_decay', 0.1)),
      /decays biases and LayerNorm gains/,
    ],
    [
      edited((r) => get(r, 'optimizer', 'state', 3, 'step') && (get(r, 'optimizer', 'state', 3) as Map<string, unknown>).set('step', 5)),
      /AdamW's steps differ between parameters/,
    ],
    [edited((r) => (get(r, 'optimizer', 'state') as Map<number, unknown>).delete(4)), /optimizer\.state has no entry for parameter 4/],
    [
      edited((r) => {
        const s = get(r, 'optimizer', 'state', 0) as Map<string, TorchTensor>;
        const v = s.get('exp_avg_sq')!;
        const data = v.data.slice();
        data[2] = -1;
        s.set('exp_avg_sq', { shape: v.shape, data });
      }),
      /exp_avg_sq of transformer\.wte\.weight holds a negative value/,
    ],
    [
      edited((r) => {
        const s = get(r, 'optimizer', 'state', 0) as Map<string, TorchTensor>;
        const v = s.get('exp_avg')!;
        const data = v.data.slice();
        data[2] = Number.NaN;
        s.set('exp_avg', { shape: v.shape, data });
      }),
      /m\.transformer\.wte\.weight holds NaN at index 2/,
    ],
    [edited((r) => r.set('iter_num', -3)), /iter_num is -3, not a step count/],
    [edited((r) => r.delete('model_args')), /not a nanoGPT checkpoint/],
    [edited((r) => (get(r, 'model_args') as Map<string, unknown>).set('block_size', 0)), /model_args\.blockSize must be an integer from 1/],
  ];
  for (const [bytes, pattern] of cases)
    assert.match(
      refusal(() => load(bytes)),
      pattern,
    );
});

test('torch.save layouts that do not hold together are refused: storages against their tensors, globals, byte order', () => {
  const load = (bytes: Uint8Array) => parseNanoGptCheckpoint(bytes, 'bad.pt');
  const text = (p: Uint8Array) => new TextDecoder('latin1').decode(p);
  const bytesOf = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const swap = (from: string, to: string) =>
    withPickle(fixtureBytes('ckpt.pt'), (p) => {
      const s = text(p);
      assert.ok(s.includes(from), `the fixture's pickle holds ${JSON.stringify(from)}`);
      return bytesOf(s.replace(from, to));
    });
  const cases: [Uint8Array, RegExp][] = [
    [swap('torch\nFloatStorage\n', 'torch\nHalfStorage\n'), /names the global "torch\.HalfStorage", which a checkpoint does not need/],
    [swap('collections\nOrderedDict\n', 'posix\nOrderedDict\n'), /names the global "posix\.OrderedDict"/],
    [swap('torch._utils\n_rebuild_tensor_v2\n', 'torch._utils\n_rebuild_tensor_v3\n'), /"torch\._utils\._rebuild_tensor_v3"/],
    // The embedding's storage declares 464 floats; say 465 and it no longer matches its entry's bytes.
    [swap('cpuq\tM\xd0\x01', 'cpuq\tM\xd1\x01'), /declares 465 floats but its entry holds 1856 bytes/],
    // wte is [58, 8]: as [59, 8] it runs past its storage.
    [swap('K\x00K:K\x08\x86', 'K\x00K;K\x08\x86'), /a tensor of size \(59,8\) at offset 0 runs past its storage of 464 floats/],
    [swap('K\x08K\x01\x86', 'K\x01K\x08\x86'), /not contiguous/],
  ];
  for (const [bytes, pattern] of cases)
    assert.match(
      refusal(() => load(bytes)),
      pattern,
    );
  const zip = decodeStoredZip(fixtureBytes('ckpt.pt'), 'f');
  const bigEndian = encodeStoredZip([
    ...zip.names.map((name) => ({ name, bytes: zip.read(name) })),
    { name: 'ckpt/byteorder', bytes: new TextEncoder().encode('big') },
  ]);
  assert.match(
    refusal(() => load(bigEndian)),
    /stored "big"-endian/,
  );
  const noPickle = encodeStoredZip(zip.names.filter((n) => !n.endsWith('data.pkl')).map((name) => ({ name, bytes: zip.read(name) })));
  assert.match(
    refusal(() => load(noPickle)),
    /not a torch\.save checkpoint/,
  );
  // A storage entry missing from the archive.
  const noStorage = encodeStoredZip(zip.names.filter((n) => n !== 'ckpt/data/0').map((name) => ({ name, bytes: zip.read(name) })));
  assert.match(
    refusal(() => load(noStorage)),
    /storage "0" has no entry "ckpt\/data\/0"/,
  );
});
