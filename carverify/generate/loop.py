"""The VLM-CaR loop: frames -> sub-tasks -> program -> audit -> feedback -> program ...

The generated program is only ever handed to `audit_source`, which runs it in the
sandbox; this module parses replies but never compiles, imports or executes them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from carverify.config import AuditConfig
from carverify.errors import InternalError, UsageError
from carverify.generate import feedback as fb
from carverify.generate import prompts
from carverify.generate.extract import extract_program
from carverify.generate import patch
from carverify.generate.providers import Completion, ImagesRefused, Provider, ReplayMiss
from carverify.result import AuditReport, Finding

DEFAULT_ROUNDS = 3
PROGRAM_PATH = "program.py"  # the name findings and feedback use for the candidate


@dataclass
class Exchange:
    step: str                 # "decompose" | "program" | "refine"
    round: int                # 0 for decompose, then 1..N
    messages: list[dict]
    completion: Completion


@dataclass
class Round:
    number: int
    exchange: Exchange
    code: str | None
    findings: list[Finding]            # the extraction's (CV70x) or the audit's
    report: AuditReport | None = None
    how: str = ""                      # where the code was found in the reply
    feedback: str | None = None        # what the next request told the model about this round

    @property
    def verdict(self) -> str:
        return self.report.verdict if self.report is not None else "no program"

    @property
    def accepted(self) -> bool:
        return self.report is not None and self.report.verdict == "accepted"

    def rank(self) -> tuple:
        """Higher is better: accepted, then furthest stage passed, then fewest findings, then later."""
        if self.report is None:
            return (0, -1, 0, self.number)
        passed = sum(1 for s in self.report.stages if s.status == "passed")
        return (int(self.accepted), passed, -len(self.report.findings), self.number)


@dataclass
class Generation:
    suite: str
    model: str
    provider: str
    frames: prompts.Frames
    images: bool = True                 # False: the frames went to the model as text
    decompose: Exchange | None = None
    decomposition: dict | None = None
    rounds: list[Round] = field(default_factory=list)

    @property
    def best(self) -> Round | None:
        with_code = [r for r in self.rounds if r.report is not None]
        return max(with_code, key=Round.rank) if with_code else None

    @property
    def accepted(self) -> bool:
        return any(r.accepted for r in self.rounds)

    def usage(self) -> dict[str, int]:
        total: dict[str, int] = {}
        exchanges = ([self.decompose] if self.decompose else []) + [r.exchange for r in self.rounds]
        for ex in exchanges:
            for key, value in ex.completion.usage.items():
                total[key] = total.get(key, 0) + int(value)
        return total


class Listener:
    """Hooks the loop calls as it goes (progress lines, recording, tracking); all optional."""

    def images_refused(self, generation: Generation, why: str) -> None: ...

    def decomposed(self, generation: Generation) -> None: ...

    def round_done(self, generation: Generation, round_: Round) -> None: ...

    def finished(self, generation: Generation) -> None: ...


def generate(suite, provider: Provider, *, model: str, rounds: int = DEFAULT_ROUNDS, stages=None,
             config=None, listeners: list[Listener] = (), frames: prompts.Frames | None = None,
             audit: Callable[..., AuditReport] | None = None, feedback: str = "full") -> Generation:
    """Ask for a program, audit it, feed the findings back; stop at the first accepted one.

    `feedback`: "full" findings, "codes" only, or "none" ("rejected, try again"): the ablation."""
    from carverify.audit import audit_source
    from carverify.suite import load_suite

    if rounds < 1:
        raise UsageError(f"rounds must be at least 1, got {rounds}")
    if feedback not in fb.FEEDBACK_MODES:
        raise UsageError(f"feedback must be one of {', '.join(fb.FEEDBACK_MODES)}, got {feedback!r}")
    suite = load_suite(suite) if isinstance(suite, str) else suite
    if stages:
        from carverify.audit import stage_function
        for name in stages:
            stage_function(name)  # an unknown stage fails before the model is asked anything
    audit = audit or audit_source
    frames = frames or prompts.Frames.of_suite(suite)
    name_frame = fb.suite_frame_namer(suite, (config.max_suite_frames if config else AuditConfig().max_suite_frames))
    gen = Generation(suite=suite.name, model=model, provider=getattr(provider, "name", type(provider).__name__),
                     frames=frames)

    gen.images = getattr(provider, "sees_images", None) is not False
    messages = prompts.decompose_messages(suite, frames, images=gen.images)
    try:
        completion = _ask(provider, messages, model, "decompose", 0)
    except ImagesRefused as exc:
        gen.images = False
        _emit(listeners, "images_refused", gen, str(exc))
        messages = prompts.decompose_messages(suite, frames, images=False)
        completion = _ask(provider, messages, model, "decompose", 0)
    gen.decompose = Exchange("decompose", 0, messages, completion)
    gen.decomposition = prompts.parse_decomposition(gen.decompose.completion.text)
    _emit(listeners, "decomposed", gen)

    # The conversation grows by one reply and its findings per round: seeing its earlier
    # attempts keeps a model from bringing back a flaw it already fixed, and N is small.
    request = messages + [{"role": "assistant", "content": gen.decompose.completion.text},
                          prompts.program_message(suite, frames, gen.decomposition)]
    history, base = request, len(request)
    for number in range(1, rounds + 1):
        step = "program" if number == 1 else "refine"
        completion = _ask(provider, request, model, step, number)
        round_ = _judge(Exchange(step, number, request, completion), suite, audit, stages, config,
                        _patch_base(gen.rounds))
        gen.rounds.append(round_)
        if round_.report is not None and round_.report.verdict == "error":
            _emit(listeners, "round_done", gen, round_)
            raise InternalError(f"round {number}: the audit itself failed: "
                                + "; ".join(f"{f.code} {f.message}" for f in round_.report.findings[:1]))
        if not round_.accepted and number < rounds:
            round_.feedback = fb.for_round(round_.report, round_.findings, round_.code, round_.how,
                                           feedback, name_frame, repeat_of=_repeat_of(round_, gen.rounds[:-1]))
            history = history + [{"role": "assistant", "content": completion.text},
                                 prompts.refine_message(round_.feedback)]
            request = fit_context(history, base, provider, round_.exchange, gen.rounds)
        _emit(listeners, "round_done", gen, round_)
        if round_.accepted:
            break
    _emit(listeners, "finished", gen)
    return gen


def fit_context(history: list[dict], base: int, provider, last: Exchange, rounds: list[Round]) -> list[dict]:
    """The conversation, without its oldest rounds if it would not fit the model's context.

    `history` is `base` messages (system, task, sub-tasks, program request) and then a reply and
    its feedback per round.  Measured (bench-generate, prompts v3): by round 5 the 0.5B model's
    conversation was 8,600 tokens and llama.cpp's 8,192-token context refused it (HTTP 400).
    Tokens are estimated from the last request's own count (characters per token of this very
    conversation, with a margin), so no tokenizer is needed; the newest round is always kept.
    """
    context = getattr(provider, "context_tokens", None)
    prompt_tokens = last.completion.usage.get("prompt_tokens")
    if not context or not prompt_tokens:
        return history
    reply = int((getattr(provider, "sampling", None) or {}).get("max_tokens") or 0)
    per_token = max(1.0, _chars(last.messages) / prompt_tokens)

    def tokens(messages: list[dict]) -> float:
        return 1.1 * _chars(messages) / per_token + 8 * len(messages)

    kept = history[base:]
    dropped = 0
    while len(kept) > 2 and tokens(history[:base] + kept) + reply > context:
        kept, dropped = kept[2:], dropped + 1
    if not dropped:
        return history
    why = ", ".join(f"round {r.number} {'+'.join(dict.fromkeys(f.code for f in r.findings)) or r.verdict}"
                    for r in rounds[:dropped])
    note = (f"(Rounds 1-{dropped} are left out to fit the model's context of {context} tokens; they were "
            f"rejected: {why}.)\n\n") if dropped > 1 else (
            f"(Round 1 is left out to fit the model's context of {context} tokens; it was rejected: {why}.)\n\n")
    last_message = {**kept[-1], "content": note + kept[-1]["content"]}
    return history[:base] + kept[:-1] + [last_message]


def _chars(messages: list[dict]) -> int:
    return sum(len(m["content"]) if isinstance(m["content"], str)
               else sum(len(part.get("text", "")) for part in m["content"]) for m in messages)


def _ask(provider: Provider, messages: list[dict], model: str, step: str, number: int) -> Completion:
    try:
        return provider.complete(messages, model=model)
    except ReplayMiss as exc:
        label = "step decompose" if step == "decompose" else f"step {step}, round {number}"
        raise UsageError(f"replay: no recorded reply for {label}: {exc}") from exc


def _patch_base(rounds: list[Round]) -> Round | None:
    """The candidate a partial reply patches: the latest round that had code."""
    return next((r for r in reversed(rounds) if r.code is not None), None)


def _repeat_of(round_: Round, earlier: list[Round]) -> int | None:
    """The latest earlier round whose program this one repeats (a small model often sends the
    same code back, or a patch that changes nothing), or None."""
    if round_.code is None:
        # No program: the same reply word for word (the 0.5B model sent one twice in a row).
        text = _normalised(round_.exchange.completion.text)
        return next((r.number for r in reversed(earlier) if r.code is None
                     and _normalised(r.exchange.completion.text) == text), None) if text else None
    same = _normalised(round_.code)
    return next((r.number for r in reversed(earlier) if r.code is not None and _normalised(r.code) == same), None)


def _normalised(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip())


def _judge(exchange: Exchange, suite, audit, stages, config, base: Round | None = None) -> Round:
    completion = exchange.completion
    extraction = extract_program(completion.text, completion.finish_reason)
    code, how = extraction.code, extraction.how
    if extraction.findings and base is not None and extraction.code is None:
        # No whole program, but perhaps the functions the model fixed: apply them to the
        # previous candidate, and audit (and record) the merged program.
        partial = patch.partial_code(completion.text, base.code)
        merged = patch.apply(base.code, partial) if partial is not None else None
        if merged is not None:
            code, how = merged.code, merged.describe(base.number)
            extraction.findings = []
    if extraction.findings:
        return Round(exchange.round, exchange, code, extraction.findings, None, how)
    report = audit(code, suite, path=PROGRAM_PATH, stages=stages, config=config)
    return Round(exchange.round, exchange, code, report.findings, report, how)


def _emit(listeners, hook: str, *args) -> None:
    for listener in listeners:
        getattr(listener, hook, lambda *a: None)(*args)


class ProgressPrinter(Listener):
    """One line per step on a stream (stderr for the CLI): round, verdict, first finding."""

    def __init__(self, stream, rounds: int, width: int = 200):
        self.stream, self.rounds, self.width = stream, rounds, width

    def _print(self, text: str) -> None:
        print(text if len(text) <= self.width else text[:self.width - 1] + "…", file=self.stream, flush=True)

    def images_refused(self, gen: Generation, why: str) -> None:
        self._print(f"decompose: {why}")

    def decomposed(self, gen: Generation) -> None:
        if gen.decomposition is None:
            self._print("decompose: the reply is not the JSON asked for; continuing with it as text")
        else:
            names = [s["name"] for s in gen.decomposition["subtasks"]]
            self._print(f"decompose: {len(names)} sub-tasks: {', '.join(names)}")

    def round_done(self, gen: Generation, round_: Round) -> None:
        f = round_.findings[0] if round_.findings else None
        first = f"{f.location(PROGRAM_PATH)} {f.code} {f.message}" if f else ""
        more = f" (+{len(round_.findings) - 1} more)" if len(round_.findings) > 1 else ""
        text = f"round {round_.number}/{self.rounds}: {round_.verdict.upper()}"
        if round_.how.startswith("patch"):
            text += f" ({round_.how})"
        self._print(text + (f" — {first}{more}" if first else ""))


class TranscriptRecorder(Listener):
    """Writes every exchange, as the loop sent it, to a transcript file."""

    def __init__(self, writer):
        self.writer = writer

    def decomposed(self, gen: Generation) -> None:
        self._add(gen.decompose)

    def round_done(self, gen: Generation, round_: Round) -> None:
        self._add(round_.exchange)

    def _add(self, ex: Exchange) -> None:
        self.writer.add(step=ex.step, round=ex.round, messages=ex.messages, completion=ex.completion)
