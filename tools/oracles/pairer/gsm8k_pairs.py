"""Golden values for the pairer's GSM8K tests, computed independently of the TypeScript code.

Reads ../shared/data/gsm8k/model_solutions.jsonl (path given as the first argument) and prints,
as JSON, what two pairing jobs over run "run-gsm8k" must produce:
  - ladder: 175b_verification chosen over 6b_verification (identical and empty pairs dropped);
  - score: GSM8K correctness (last number in the reply against the number after "####") over the
    four models listed best first, best over worst when the scores differ.
Pair ids: SHA-256 of run, prompt id, sample index, chosen and rejected model joined by NUL,
first 32 hex digits. Run: python3 tools/oracles/pairer/gsm8k_pairs.py ../shared/data/gsm8k/model_solutions.jsonl
"""
import hashlib
import json
import re
import sys

RUN = "run-gsm8k"
NUMBER = r"(?<![^\W_])(?<!\.)-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"


def pair_id(prompt_id, chosen, rejected, sample=0):
    text = "\0".join([RUN, prompt_id, str(sample), chosen, rejected])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def normalize(raw):
    s = re.sub(r"[$,\s]", "", raw)
    negative = s.startswith("-")
    if negative:
        s = s[1:]
    whole, _, fraction = s.partition(".")
    whole = re.sub(r"^0+(?=\d)", "", whole)
    fraction = fraction.rstrip("0")
    body = f"{whole}.{fraction}" if fraction else whole
    return f"-{body}" if negative and re.search(r"[1-9]", body) else body


def last_number(text):
    found = re.findall(NUMBER, text)
    return normalize(found[-1]) if found else None


def gold(answer):
    m = re.search(r"####\s*(.+)\s*$", answer)
    return last_number(m.group(1) if m else answer)


def text_filter(chosen, rejected):
    if not chosen.strip() or not rejected.strip():
        return "empty"
    if chosen.strip() == rejected.strip():
        return "identical"
    return None


def main(path):
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]

    ladder = {"pairs": 0, "dropped": {}, "first_ids": []}
    for row in rows:
        big, small = row["responses"]["175b_verification"], row["responses"]["6b_verification"]
        reason = text_filter(big, small)
        if reason:
            ladder["dropped"][reason] = ladder["dropped"].get(reason, 0) + 1
            continue
        ladder["pairs"] += 1
        if len(ladder["first_ids"]) < 3:
            ladder["first_ids"].append(pair_id(row["id"], "175b_verification", "6b_verification"))

    models = ["175b_verification", "175b_finetuning", "6b_verification", "6b_finetuning"]
    score = {"pairs": 0, "dropped": {}, "chosen_by_model": {}}
    for row in rows:
        g = gold(row["answer"])
        scored = [(m, 1 if last_number(row["responses"][m]) == g else 0) for m in models]
        best = max(scored, key=lambda s: s[1])  # first of the highest
        worst = [s for s in scored if s[1] == min(x[1] for x in scored)][-1]  # last of the lowest
        reason = text_filter(row["responses"][best[0]], row["responses"][worst[0]])
        if reason is None and best[1] - worst[1] <= 0:
            reason = "below_margin"
        if reason:
            score["dropped"][reason] = score["dropped"].get(reason, 0) + 1
            continue
        score["pairs"] += 1
        score["chosen_by_model"][best[0]] = score["chosen_by_model"].get(best[0], 0) + 1

    print(json.dumps({"prompts": len(rows), "ladder": ladder, "score": score}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
