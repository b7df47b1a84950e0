"""The 512-token test tokenizer of @delta/lm (libs/lm/test/fixtures/tokenizer/tokenizer.json):
byte-level BPE trained with the Hugging Face `tokenizers` library on the questions of GSM8K's
test set (../shared/data/gsm8k/test.jsonl, beside the repository). Test fixture only.

Ids 0-7 are special tokens, so the tiny models' configs can name them: 0 <|begin_of_text|>
(added in front of raw text, like Llama 3), 1 <|end_of_text|>, 2 <|start_header_id|>,
3 <|end_header_id|>, 4 <|eot_id|>, 5 <|im_start|>, 6 <|im_end|>, 7 <|pad|>.

Run from the repository root (tokenizers 0.23.3 was used):
  python tools/oracles/lm/make_tokenizer.py
"""

import json
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DATA = os.path.join(ROOT, "..", "shared", "data", "gsm8k", "test.jsonl")
OUT = os.path.join(ROOT, "libs", "lm", "test", "fixtures", "tokenizer", "tokenizer.json")
SPECIAL = [
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eot_id|>", "<|im_start|>", "<|im_end|>", "<|pad|>",
]


def main():
    questions = [json.loads(line)["question"] for line in open(DATA, encoding="utf-8")]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(questions, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A",
        pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", 0)],
    )
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tok.save(OUT)
    print(f"vocab {tok.get_vocab_size()}; wrote {os.path.relpath(OUT, ROOT)}")
    # Reference encodings (with the BOS the post-processor adds) for the JS tokenizer to match.
    samples = [
        "Janet has 16 eggs.",
        "  Two spaces, a tab\tand a newline\n#### 18",
        "Unicode: caf\u00e9, \u00fcber, \u65e5\u672c, emoji \U0001F600.",
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    ]
    golden = [{"text": t, "ids": tok.encode(t).ids} for t in samples]
    with open(os.path.join(os.path.dirname(OUT), "encodings.json"), "w") as fh:
        json.dump({"producedBy": "tools/oracles/lm/make_tokenizer.py", "encodings": golden}, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
