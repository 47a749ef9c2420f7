#!/usr/bin/env python3
"""The reference merges of test/fixtures/minbpe_shakespeare_merges.json: byte-level BPE trained the way
Karpathy's minbpe trains (RegexTokenizer.train), on Tiny Shakespeare to 512 tokens, with GPT-2's and GPT-4's
split patterns. Run by hand; CI needs no Python. Needs Python's `regex` module (Debian: python3-regex):

    python3 scripts/bpe_reference.py ../shared/data/tinyshakespeare.txt > test/fixtures/minbpe_shakespeare_merges.json

minbpe's rule: count every adjacent pair of ids in every piece, take the most frequent pair (of equals, the
one counted first, that is the one that occurs first in the text: Python's max() keeps the first maximum and
dicts keep insertion order), give it the next id, replace it left to right everywhere, and again. This
script recounts everything for every merge, as minbpe does, so it shares nothing with tsgpt's incremental
trainer. It counts each distinct piece once, weighted by how often it occurs; pieces are kept in order of
first occurrence, so the order in which pairs are first counted, and with it every tie, is minbpe's.
"""
import json
import sys

import regex

PATTERNS = {
    "gpt2": r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "gpt4": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""",
}
VOCAB_SIZE = 512


def learn_merges(text, pattern, merges):
    weights = {}
    for piece in regex.findall(pattern, text):
        weights[piece] = weights.get(piece, 0) + 1
    pieces = [(list(piece.encode("utf-8")), n) for piece, n in weights.items()]
    learnt = []
    for step in range(merges):
        counts = {}
        for ids, n in pieces:
            for pair in zip(ids, ids[1:]):
                counts[pair] = counts.get(pair, 0) + n
        best = max(counts, key=counts.get)
        new_id = 256 + step
        pieces = [(replace_pair(ids, best, new_id), n) for ids, n in pieces]
        learnt.append(list(best))
    return learnt


def replace_pair(ids, pair, new_id):
    out = []
    k = 0
    while k < len(ids):
        if k + 1 < len(ids) and (ids[k], ids[k + 1]) == pair:
            out.append(new_id)
            k += 2
        else:
            out.append(ids[k])
            k += 1
    return out


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    result = {name: learn_merges(text, pattern, VOCAB_SIZE - 256) for name, pattern in PATTERNS.items()}
    json.dump(result, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
