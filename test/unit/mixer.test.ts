import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import type { HiddenPoint } from '../../src/models/decoder.js';
import { GPT, type GPTConfig } from '../../src/models/gpt.js';
import { generate, generateBatch, type GenerateOptions, type NextTokenMixer } from '../../src/sample/generate.js';
import { forwardLastLogits, referenceHidden } from '../helpers/reference_decoding.js';

const V = 13,
  blockSize = 8;

function makeModel(style: GPTConfig['style']): GPT {
  const model = new GPT(
    { kind: 'gpt', style, vocabSize: V, blockSize, nLayer: 2, nHead: 2, nEmbd: 12, dropout: 0, bias: true },
    new Rng(4),
  );
  for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! * 20;
  return model;
}

interface Call {
  probs: number[];
  hidden: number[];
  context: number[];
}

/** A mixer that changes nothing and keeps a copy of what it was given. */
function recordingMixer(hiddenPoint?: HiddenPoint): NextTokenMixer & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    hiddenPoint,
    calls,
    mix(probs, hidden, context) {
      calls.push({ probs: [...probs], hidden: [...hidden], context: [...context] });
      return probs;
    },
  };
}

/** softmax(logits / temperature) in float64, written out here rather than taken from sampling.ts. */
function softmax(logits: Float32Array, temperature: number): number[] {
  const max = Math.max(...logits);
  const e = [...logits].map((l) => Math.exp((l - max) / temperature));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

for (const [style, point] of [
  ['nanogpt', undefined],
  ['nanogpt', 'head_input'],
  ['lecture', 'block_output'],
] as const) {
  test(`a mixer gets the model's probabilities after temperature, its hidden state (${point ?? 'ffn_input, the default'}) and the context (${style})`, () => {
    const model = makeModel(style);
    const prompt = [1, 2, 3];
    const opts: GenerateOptions = { maxNewTokens: 12, temperature: 0.7, topK: 5, rng: new Rng(3) };
    const mixer = recordingMixer(point);
    const tokens = [...generate(model, prompt, { ...opts, mix: mixer })];
    assert.equal(mixer.calls.length, 12);
    mixer.calls.forEach((call, step) => {
      const context = [...prompt, ...tokens.slice(0, step)];
      assert.deepEqual(call.context, context, `step ${step}: the context so far, uncropped`);
      const window = [context.slice(-blockSize)];
      const expected = softmax(forwardLastLogits(model, window), opts.temperature);
      call.probs.forEach((p, i) => assert.ok(Math.abs(p - expected[i]!) < 1e-15, `step ${step}: p[${i}] ${p} vs ${expected[i]}`));
      assert.deepEqual(call.hidden, [...referenceHidden(model, window, point ?? 'ffn_input')], `step ${step}: the hidden state`);
    });
    // Handing back the model's distribution changes nothing.
    assert.deepEqual(tokens, [...generate(model, prompt, { ...opts, rng: new Rng(3) })]);
    model.dispose();
  });
}

test("a batch's mixer gets each sequence's own hidden state and context", () => {
  const model = makeModel('nanogpt');
  const prompts = [
    [1, 2],
    [3, 4],
  ];
  const mixer = recordingMixer();
  const steps = [...generateBatch(model, prompts, { maxNewTokens: 3, temperature: 1, rng: new Rng(5), mix: mixer })];
  assert.equal(mixer.calls.length, 6);
  mixer.calls.forEach((call, i) => {
    const [step, b] = [Math.floor(i / 2), i % 2];
    const context = [...prompts[b]!, ...steps.slice(0, step).map((s) => s[b]!)];
    assert.deepEqual(call.context, context);
    assert.deepEqual(call.hidden, [...referenceHidden(model, [context], 'ffn_input')], `step ${step}, sequence ${b}`);
  });
  model.dispose();
});

test('the mix point comes before top-k, top-p and the draw: they apply to the mixed distribution', () => {
  const model = makeModel('nanogpt');
  // A memory trusted entirely (lambda = 1): the draw follows its distribution, cut by top-k or top-p. Were
  // they applied to the model's before the mix, this one would go through whole.
  const memory = Array.from({ length: V }, (_, i) => (i === 4 ? 0.3 : i === 9 ? 0.25 : i === 2 ? 0.2 : 0.25 / (V - 3)));
  const onlyMemory: NextTokenMixer = { mix: () => memory };
  const counts = (sampling: object) => {
    const tokens = [...generate(model, [1, 2, 3], { temperature: 1, ...sampling, maxNewTokens: 600, rng: new Rng(9), mix: onlyMemory })];
    const n = new Array<number>(V).fill(0);
    for (const t of tokens) n[t]!++;
    return n;
  };
  for (const cut of [{ topK: 2 }, { topP: 0.5 }]) {
    const n = counts(cut);
    assert.equal(n[4]! + n[9]!, 600, `${JSON.stringify(cut)}: only the two most likely tokens of the memory's`);
    assert.ok(Math.abs(n[4]! / 600 - 0.3 / 0.55) < 0.07, `${JSON.stringify(cut)}: token 4 drawn ${n[4]} times`);
  }
  const whole = counts({});
  assert.ok(whole[2]! > 60 && whole[4]! > 120, `no cut: every token of the memory's drawn (${whole})`);

  // At temperature 0 the model's distribution is all on its most likely token, and greedy takes the mixed
  // distribution's: here 0.6 on the first token the model gives nothing.
  const seen: number[][] = [];
  const greedyMixer: NextTokenMixer = {
    mix(probs) {
      seen.push([...probs]);
      const least = probs.indexOf(0);
      return [...probs].map((p, i) => 0.4 * p + (i === least ? 0.6 : 0));
    },
  };
  const prompt = [1, 2, 3];
  const greedy = [...generate(model, prompt, { temperature: 0, maxNewTokens: 5, rng: new Rng(1), mix: greedyMixer })];
  seen.forEach((probs, step) => {
    const logits = forwardLastLogits(model, [[...prompt, ...greedy.slice(0, step)].slice(-blockSize)]);
    const top = logits.indexOf(Math.max(...logits));
    assert.deepEqual(
      probs,
      probs.map((_, i) => (i === top ? 1 : 0)),
    );
    assert.equal(greedy[step], top === 0 ? 1 : 0);
  });
  model.dispose();
});

test('a mixer that forces a token decides every draw', () => {
  const model = makeModel('lecture');
  const want = (context: readonly number[]) => (context.length * 7) % V;
  const forcing: NextTokenMixer = {
    mix(probs, _hidden, context) {
      probs.fill(0);
      probs[want(context)] = 1;
      return probs;
    },
  };
  const prompt = [5, 6];
  const tokens = [...generate(model, prompt, { temperature: 1, maxNewTokens: 15, rng: new Rng(2), mix: forcing })];
  assert.deepEqual(
    tokens,
    tokens.map((_, i) => want([...prompt, ...tokens.slice(0, i)])),
  );
  model.dispose();
});

test('a mixer handing back no distribution is refused with one clear message', () => {
  const model = makeModel('nanogpt');
  const run = (mix: NextTokenMixer) => [...generate(model, [1], { temperature: 1, maxNewTokens: 2, rng: new Rng(1), mix })];
  assert.throws(() => run({ mix: () => [0.5, 0.5] }), /mixer: 2 probabilities for a vocabulary of 13/);
  assert.throws(() => run({ mix: () => new Array(V).fill(0) }), /the weights sum to 0, not a distribution/);
  model.dispose();
});
