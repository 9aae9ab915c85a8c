"""What asking a real model at every step costs: a local code LLM judging one frame per call.

The paper's alternative to a code reward is to ask a (vision-)language model at every env
step whether each sub-task is done.  No vision model with weights runs here, so the local
text model (llama.cpp's OpenAI-compatible server on 127.0.0.1, `carverify model`) gets the
frame as text, exactly as `carverify generate` sends frames to a text-only model, and answers
with JSON.  Each call is timed end to end through the real `openai` client: frame to text,
request, prefill, decode.  Per environment family the median goes to
docs/results/rl/model_cost.json, which bench/rl_table.py turns into "model asked every step".

    python bench/model_step_cost.py [--model qwen2.5-coder-0.5b] [--calls 20]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "results" / "rl" / "model_cost.json"
# One suite per family: what its frames look like in text decides the prompt length.
FAMILIES = {"minigrid": "minigrid-doorkey-8x8", "panda": "panda-push-pixels", "tabletop": "tabletop-block-in-bowl"}
SYSTEM = "You judge one frame of a robot task. Answer with one JSON object only, no other text."


def frames(suite, n: int) -> list[tuple[np.ndarray, dict[str, bool]]]:
    """n (frame, oracle facts) pairs spread over the suite's expert and perturbed episodes.

    Random play from reset rarely completes a sub-task, so a model answering "false" to
    everything would look right; expert and perturbed play hold every sub-task's both sides.
    """
    from carverify import episodes

    pool = episodes.expert_episodes(suite) + episodes.perturbed_episodes(suite)
    picks = []
    for i in range(n):
        ep = pool[i % len(pool)]
        t = (i * 7919) % len(ep.frames)  # a spread of times, the same every run
        picks.append((ep.frames[t], {f: bool(ep.facts[f][t]) for f in suite.subtask_facts if f in ep.facts}))
    return picks


def question(suite, text: str) -> str:
    names = ", ".join(suite.subtask_facts)
    return (f"Task: {suite.description}\n\nThe current frame, described from its pixels:\n{text}\n\n"
            f"For each sub-task ({names}), is it done in this frame? "
            f"Answer as {{{', '.join(f'{n!r}: true or false' for n in suite.subtask_facts)}}}.".replace("'", '"'))


def measure(client, model: str, suite, calls: int) -> dict:
    from carverify.generate.frames_text import frame_text

    seconds, prompt_tokens, completion_tokens, parsed, right, asked = [], [], [], 0, 0, 0
    for i, (frame, truth) in enumerate(frames(suite, calls + 1)):
        t0 = time.perf_counter()
        text = frame_text(suite, frame)
        reply = client.chat.completions.create(model=model, temperature=0.0, max_tokens=80, messages=[
            {"role": "system", "content": SYSTEM}, {"role": "user", "content": question(suite, text)}])
        elapsed = time.perf_counter() - t0
        if i == 0:
            continue  # the first call also fills llama.cpp's prompt cache with the system prompt
        seconds.append(elapsed)
        prompt_tokens.append(reply.usage.prompt_tokens)
        completion_tokens.append(reply.usage.completion_tokens)
        answer = _json(reply.choices[0].message.content)
        parsed += answer is not None
        for fact, value in truth.items():  # an unparsable or missing answer counts as wrong
            asked += 1
            right += answer is not None and answer.get(fact) is value
        print(f"  {suite.name}: call {i}/{calls}: {elapsed:.2f} s ({prompt_tokens[-1]} prompt tokens)", flush=True)
    return {"suite": suite.name, "calls": calls, "median_seconds": statistics.median(seconds),
            "p90_seconds": float(np.percentile(seconds, 90)), "median_prompt_tokens": statistics.median(prompt_tokens),
            "median_completion_tokens": statistics.median(completion_tokens), "json_answers": parsed,
            "answers_right": right, "answers_asked": asked}


def _json(content: str | None) -> dict | None:
    text = (content or "").strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    import openai

    from carverify.generate.local_model import DEFAULT_MODEL, spec_of, verified_path
    from carverify.generate.local_server import LocalServer
    from carverify.suite import load_suite

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)

    load0 = os.getloadavg()[0]
    print(f"starting llama.cpp's server with {args.model} on 127.0.0.1…", flush=True)
    results = {}
    with LocalServer(verified_path(spec_of(args.model)), args.model, threads=2, status=print) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0, timeout=600)
        for family in args.families:
            results[family] = measure(client, args.model, load_suite(FAMILIES[family]), args.calls)
    record = {"model": args.model, "server": "llama-cpp-python server, 2 threads, on 127.0.0.1",
              "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)],
              "seconds_per_call": {f: r["median_seconds"] for f, r in results.items()}, "families": results}
    out = Path(args.out)
    previous = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    if previous.get("model") == args.model:  # measuring some families again keeps the others
        record["families"] = {**previous.get("families", {}), **record["families"]}
        record["seconds_per_call"] = {**previous.get("seconds_per_call", {}), **record["seconds_per_call"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1), encoding="utf-8")
    for family, r in results.items():
        print(f"{family} ({r['suite']}): {r['median_seconds'] * 1e3:.0f} ms per call median, "
              f"p90 {r['p90_seconds'] * 1e3:.0f} ms, {r['median_prompt_tokens']:.0f} prompt tokens, "
              f"{r['json_answers']}/{r['calls']} answers were JSON, {r['answers_right']}/{r['answers_asked']} "
              f"sub-task answers agree with the oracle")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
