"""Golden token ids for @delta/world's tokenizer, from Hugging Face's own `tokenizers` library.

Writes libs/world/test/golden/tokenizer-ids.json: for each text, the ids without and with the
special tokens (the post-processor's BOS). Run from the repository root:

    npx tsx --conditions=@delta/source -e \
      "import {tokenizerJson} from './libs/world/src/index.ts'; \
       console.log(JSON.stringify(tokenizerJson()))" > /tmp/world-tokenizer.json
    python tools/oracles/world/tokenizer_ids.py /tmp/world-tokenizer.json \
      > libs/world/test/golden/tokenizer-ids.json

Needs `pip install tokenizers==0.22.1`. Test oracle only; nothing in the product runs it.
"""
import json
import sys

from tokenizers import Tokenizer

TEXTS = [
    "9-6+4+5=",
    "9-6=3;3+4=7;7+5=12;#12",
    "notes on a red cat:",
    "## cat runs.\n## cat digs.\n## cat eats.",
    "0123456789+-*=;#:.,? \nabcdefghijklmnopqrstuvwxyz",
    "  two  spaces ",
    "<bos>1+2=1+2=3;#3<eos>",
]


def main() -> None:
    tok = Tokenizer.from_file(sys.argv[1])
    out = []
    for text in TEXTS:
        out.append({
            "text": text,
            "ids": tok.encode(text, add_special_tokens=False).ids,
            "ids_with_special": tok.encode(text, add_special_tokens=True).ids,
        })
    sys.stdout.write("[\n" + ",\n".join(json.dumps(row) for row in out) + "\n]\n")


if __name__ == "__main__":
    main()
