// Train a tiny GPT on a string, then sample from it: the library in 15 lines (README, "Use it as a library").
import { CharTokenizer, createModel, generate, modelConfigFor, PRESETS, Rng, splitTrainVal, Trainer } from 'tsgpt';

const text = 'To be, or not to be, that is the question:\nWhether tis nobler in the mind to suffer\n'.repeat(100);
const tokenizer = CharTokenizer.fromText(text);
const { train, val } = splitTrainVal(tokenizer.encode(text));
const config = { ...PRESETS.baby, nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 32, maxIters: 150, evalInterval: 50, evalIters: 4 };
const rng = new Rng(config.seed);
const model = createModel(modelConfigFor(config, tokenizer.vocabSize), rng);
await new Trainer(model, config, train, val, rng).run({
  onEval: (e) => console.log(`step ${e.step}: train loss ${e.trainLoss.toFixed(3)}, val loss ${e.valLoss.toFixed(3)}`),
});
const ids = generate(model, tokenizer.encode('To be'), { maxNewTokens: 80, temperature: 0.8, rng });
console.log(`To be${tokenizer.decode([...ids])}`);
