"""Every finding code carverify can emit, with a short title.

Codes are stable API: tools match on them.  CV1xx parse, CV2xx policy,
CV3xx restricted run, CV4xx properties, CV5xx trajectories, CV6xx compile.
"""

CODES: dict[str, str] = {
    # parse
    "CV101": "syntax error",
    "CV102": "source too large",
    "CV103": "syntax tree too deep",
    "CV104": "source is not valid UTF-8 text",
    # policy
    "CV201": "language construct not allowed",
    "CV202": "name not allowed",
    "CV203": "attribute not allowed",
    "CV204": "import not allowed",
    "CV205": "SUBTASKS missing or malformed",
    "CV206": "sub-task function missing",
    "CV207": "sub-task function has the wrong signature",
    "CV208": "module-level statement not allowed (global state)",
    "CV209": "underscore or dunder name not allowed",
    "CV210": "keyword argument or value not allowed",
    "CV211": "rejected by RestrictedPython",
    # restricted run
    "CV301": "raised an exception",
    "CV302": "timed out",
    "CV303": "ran out of memory",
    "CV304": "returned something other than a truth value",
    "CV305": "modified its input observation",
    "CV306": "sandbox child was killed or crashed",
    "CV307": "sandbox child exited without a result",
    "CV308": "exceeded the CPU time limit",
    "CV309": "module-level code failed to load",
    "CV310": "forbidden operation at run time",
    # properties
    "CV401": "raised an exception on a generated observation",
    "CV402": "returned something other than a truth value on a generated observation",
    "CV403": "nondeterministic",
    "CV404": "modified a generated observation",
    "CV405": "over the per-call time budget",
    # trajectories
    "CV501": "sub-task not completed in every expert episode",
    "CV502": "sub-task already true at reset",
    "CV503": "sub-tasks completed out of SUBTASKS order",
    "CV504": "goal check fires without the environment's success",
    "CV505": "goal check misses the environment's success",
    "CV506": "disagrees with the oracle (precision/recall below threshold)",
    "CV507": "progress out of [0, 1] or not finite",
    "CV508": "progress disagrees with the oracle's distance",
    # compile
    "CV601": "numba nopython compile failed",
    "CV602": "compiled output differs from the restricted run",
    "CV603": "compiled per-step cost over the suite budget",
    # generation (a model's reply, before any audit)
    "CV701": "no program in the reply",
    "CV702": "reply cut off before the program ended",
}

# Not a program finding: carverify itself broke while checking (status "error").
CODES["CV000"] = "internal error"
