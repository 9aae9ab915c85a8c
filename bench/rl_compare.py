"""Steps until 80% evaluation success: CaR vs sparse reward, and what asking a model every step would cost.

For DoorKey-5x5 and DoorKey-8x8, 3 seeds each, PPO with the suite's [train] settings;
a run stops at its first evaluation with success >= 0.8 (or at the step budget).

"Ask a model every step" is estimated, not trained: the per-step cost is measured as a
real HTTP round trip with the `openai` client to a local OpenAI-compatible stub (render
+ PNG + request + a canned JSON answer), multiplied by the steps CaR needed — i.e. assuming
a per-step model reward is exactly as informative as the audited program.  A real VLM adds
its own inference time; that is a separate column under a stated assumption.

    python bench/rl_compare.py [--budget-5x5 N] [--budget-8x8 N] [--no-track] [--fresh]
Curves go to runs/bench-rl/SUITE/REWARD/curves.json; a finished (suite, reward) is reused
when its settings match, so an interrupted bench resumes.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np

SEEDS = (0, 1, 2)
TARGET = 0.8
# Documented assumption, not a measurement: a hosted GPT-4o-class model answering one
# short question about one small image typically takes about a second end to end
# (queueing, prefill of the image tokens, a few output tokens).
ASSUMED_VLM_SECONDS = 1.0
STUB_CALLS = 200


def stub_server(port_queue) -> None:
    """An OpenAI-compatible /v1/chat/completions that answers at once with a fixed sub-task verdict."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answer = json.dumps({"id": "stub", "object": "chat.completion", "created": 0, "model": "stub",
                         "choices": [{"index": 0, "finish_reason": "stop", "message": {
                             "role": "assistant",
                             "content": '{"has_key": false, "door_open": false, "at_goal": false}'}}],
                         "usage": {"prompt_tokens": 300, "completion_tokens": 20, "total_tokens": 320}}).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the openai client's connection pool expects
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def model_call_latency(suite_name: str, calls: int = STUB_CALLS) -> dict[str, float]:
    """Per-step cost of a model reward, minus the model: render + PNG + HTTP round trip (median seconds)."""
    import openai

    from carverify.generate.images import data_url, png_bytes
    from carverify.suite import load_suite

    suite = load_suite(suite_name)
    env = suite.make_env()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=stub_server, args=(queue,), daemon=True)
    server.start()  # a separate process: the server does not share our GIL
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{queue.get(timeout=30)}/v1", api_key="stub",
                               max_retries=0, timeout=30)
        render, encode, http = [], [], []
        for i in range(calls + 5):
            _, _, terminated, truncated, _ = env.step(int(rng.integers(7)))
            if terminated or truncated:
                env.reset()
            t0 = time.perf_counter()
            frame = suite.render(env)
            t1 = time.perf_counter()
            url = data_url(png_bytes(frame))
            t2 = time.perf_counter()
            client.chat.completions.create(model="stub", max_tokens=50, messages=[
                {"role": "system", "content": "You judge a MiniGrid frame. Answer JSON only."},
                {"role": "user", "content": [
                    {"type": "text", "text": "Which sub-tasks are complete: has_key, door_open, at_goal?"},
                    {"type": "image_url", "image_url": {"url": url}}]}])
            t3 = time.perf_counter()
            if i >= 5:  # the first calls open the connection and warm the client
                render.append(t1 - t0)
                encode.append(t2 - t1)
                http.append(t3 - t2)
    finally:
        server.terminate()
        server.join(5)
    return {"render": statistics.median(render), "png": statistics.median(encode),
            "http": statistics.median(http), "http_p90": float(np.percentile(http, 90))}


def run_suite(suite_name: str, budget: int, out: Path, *, track: bool, fresh: bool) -> dict:
    """reward -> curves.json data for 3 seeds, trained now or reused when the settings match."""
    from carverify import train

    results = {}
    for reward in ("car", "sparse"):
        path = out / suite_name / reward / "curves.json"
        wanted = {"steps": budget, "seeds": list(SEEDS), "stop_at": TARGET}
        if path.is_file() and not fresh:
            data = json.loads(path.read_text())
            if all(data["args"].get(k) == v for k, v in wanted.items()):
                print(f"{suite_name} {reward}: reusing {path}")
                results[reward] = data
                continue
        train.main(train.Args(suite=suite_name, rewards=(reward,), steps=budget, seeds=SEEDS, stop_at=TARGET,
                              out=str(out), track=track))
        results[reward] = json.loads(path.read_text())
    return results


def human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def main() -> None:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-5x5", type=int, default=300_000)
    parser.add_argument("--budget-8x8", type=int, default=1_000_000)
    parser.add_argument("--out", default="runs/bench-rl")
    parser.add_argument("--no-track", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="train again even if matching curves exist")
    args = parser.parse_args()

    out = Path(args.out)
    suites = {"minigrid-doorkey-5x5": args.budget_5x5, "minigrid-doorkey-8x8": args.budget_8x8}
    latency = {name: model_call_latency(name) for name in suites}
    data = {name: run_suite(name, budget, out, track=not args.no_track, fresh=args.fresh)
            for name, budget in suites.items()}

    cpu = platform.processor() or platform.machine()
    print(f"\nSteps until {TARGET:.0%} evaluation success ({date.today()}, {os.cpu_count()} CPU cores, {cpu}, "
          f"Python {platform.python_version()}); 3 seeds; '>N' = not reached within the budget N\n")
    header = ("| suite | reward | steps to 80% per seed | median | trained wall (sum of seeds) | "
              "model every step, stub (est. per run) | + assumed VLM 1 s/call (est. per run) |")
    print(header)
    print("|---|---|---|---|---|---|---|")
    for name, by_reward in data.items():
        lat = latency[name]
        per_call = lat["render"] + lat["png"] + lat["http"]
        for reward, curves in by_reward.items():
            runs = curves["runs"]
            budget = curves["args"]["steps"]
            reach = [r["steps_to_target"] for r in runs]
            cells = [f"{s // 1000}k" if s is not None else f">{budget // 1000}k" for s in reach]
            reached = [s for s in reach if s is not None]
            median = (f"{statistics.median(reached) / 1000:.0f}k" if len(reached) == len(reach)
                      else f"{len(reached)}/{len(reach)} reached")
            wall = sum(r["wall_seconds"] for r in runs)
            if reward == "car" and reached:
                steps = statistics.median(reached)
                stub = human(wall / len(runs) + steps * per_call)
                vlm = human(wall / len(runs) + steps * (per_call + ASSUMED_VLM_SECONDS))
            else:
                stub = vlm = "–"
            print(f"| {name.removeprefix('minigrid-')} | {'CaR' if reward == 'car' else reward} | "
                  f"{' / '.join(cells)} | {median} | {human(wall)} | {stub} | {vlm} |")
    print("\nPer-step cost of asking a model (median of "
          f"{STUB_CALLS} calls; render + PNG + openai client HTTP round trip to a local stub):")
    for name, lat in latency.items():
        print(f"  {name}: render {lat['render'] * 1e3:.2f} ms, PNG {lat['png'] * 1e3:.2f} ms, "
              f"HTTP {lat['http'] * 1e3:.2f} ms (p90 {lat['http_p90'] * 1e3:.2f} ms)")
    print(f"Estimates: one CaR run's measured wall time + median CaR steps-to-80% x per-step model cost, "
          f"one request per env step, not batched, same sample efficiency as CaR.  "
          f"The last column adds an assumed {ASSUMED_VLM_SECONDS:.0f} s of model inference per call "
          f"(a typical hosted GPT-4o-class request with one small image; not measured here).")


if __name__ == "__main__":
    main()
