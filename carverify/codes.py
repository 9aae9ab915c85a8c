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
    "CV212": "builtin or numpy name rebound",
    "CV213": "power with an exponent that is not a constant",
    "CV214": "round() with digits",
    "CV215": "integer outside 64 bits",
    "CV216": "dict of constants read with a key numba cannot type",
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
    "CV509": "agrees better with another sub-task's fact than with its own",
    # compile
    "CV601": "numba nopython compile failed",
    "CV602": "compiled output differs from the restricted run",
    "CV603": "compiled per-step cost over the suite budget",
    "CV604": "sandbox child stopped by a wall-clock backstop, not by a CPU limit (not judged: retry)",
    # generation (a model's reply, before any audit)
    "CV701": "no program in the reply",
    "CV702": "reply cut off before the program ended",
    # coverage (every reachable state)
    "CV801": "wrong on reachable states (precision/recall against its own fact below 0.99)",
    "CV802": "compiled and interpreted results differ on a reachable state",
    "CV803": "compiled check crashed or timed out on a reachable state",
    "CV804": "goal fires on a reachable state without the environment's success",
    "CV805": "progress out of [0, 1] or not finite on a reachable state",
}

# Not a program finding: carverify itself broke while checking (status "error").
CODES["CV000"] = "internal error"

# What makes each code fire and what to do about it: `carverify codes CODE` prints these,
# and SARIF rules carry them as help text.  A finding's own hint is specific to the
# program; these are the general case.
EXPLAIN: dict[str, str] = {
    "CV101": "Python could not parse the program. Fix the syntax error at the reported line; "
             "models often leave prose or a half-closed bracket after the code.",
    "CV102": "The source is over 64 KiB. Reward checks are a few dozen lines; a file this large is "
             "usually a pasted data table or a padding attack.",
    "CV103": "The syntax tree is nested more than 60 levels deep. Flatten the expression (name "
             "intermediate results); deep nesting is how parser-crash attacks start.",
    "CV104": "The file is not UTF-8 text. Save it as UTF-8.",
    "CV201": "A construct outside the allowlist: class, try, with, lambda, global/nonlocal, "
             "f-strings, async, yield and the like. Write plain functions with if/for/while.",
    "CV202": "A builtin or global name outside the allowlist (open, eval, getattr, __import__, ...). "
             "Use numpy through `np` and the plain builtins (len, range, abs, min, max, ...).",
    "CV203": "An attribute outside the allowlist: only numpy array methods and `np` functions that "
             "compute on arrays are allowed; raw memory views (.ctypes, .base, .data) are not.",
    "CV204": "Only `import numpy as np` is allowed. Everything else a check needs is in numpy.",
    "CV205": "The program must define SUBTASKS = (\"name\", ...) as a tuple of string literals, in "
             "completion order, whose last name is the task goal.",
    "CV206": "A name listed in SUBTASKS has no function of that name. Define def NAME(obs) for each.",
    "CV207": "A sub-task function must take exactly one required parameter, the observation: "
             "def NAME(obs). Extra parameters need literal defaults; no *args or **kwargs.",
    "CV208": "Module-level code may only define functions and constants (numbers, strings, tuples, "
             "np.array of literals, dicts of those with literal keys). State kept between calls would "
             "make a reward depend on history.",
    "CV209": "Names starting with an underscore are reserved: they reach Python's internals and the "
             "sandbox's guards. A lone `_` is allowed as a throwaway local (h, w, _ = obs.shape).",
    "CV210": "A keyword argument outside the allowlist: out= writes into existing arrays and "
             "where= leaves memory unwritten. Assign the result instead.",
    "CV211": "RestrictedPython refused to compile the program; the message quotes its reason.",
    "CV212": "A builtin (int, tuple, len, max, round, slice, ...) or the numpy alias is rebound: by "
             "assignment, a loop, comprehension or walrus target, unpacking, a parameter or a function "
             "name. The restricted run and the compiled rewrite take these names at their builtin "
             "meaning; rename the local.",
    "CV213": "`a ** b` or pow(a, b) in a function, with an exponent that is not a number the source "
             "fixes (a literal or a module constant made of literals). Python makes int ** negative "
             "int a float (2 ** -1 == 0.5), numba an int (0). Use a constant exponent, or write "
             "float(a) ** b.",
    "CV214": "round(x, ndigits) in a function. Python rounds a float's decimal digits "
             "(round(2.675, 2) == 2.67), NumPy floats and numba compute x * 10**ndigits (2.68), and "
             "compiled code cannot tell the two apart. Use np.round(x, ndigits) or compare without "
             "rounding. round(x) and round(x, 0) are allowed.",
    "CV215": "An integer literal or module constant outside int64 (about ±9.2e18). Python integers "
             "are unbounded, compiled ones wrap or are refused. Write it as a float or keep it "
             "smaller. Arithmetic on Python integers that leaves int64 at run time raises "
             "OverflowError in the compiled check instead of wrapping.",
    "CV216": "A module-level dict whose values numba types differently (tuples of different lengths, "
             "mixed kinds) is read with a key that is not known when the check compiles. Read it "
             "with a literal key, loop over .items(), or pass the key as a parameter that callers "
             "give literal keys.",
    "CV301": "The check raised an exception on a real suite frame (IndexError, ValueError, ...). "
             "Reproduce with `carverify run PROGRAM --obs FRAME.npy --fn NAME`.",
    "CV302": "One call used more than 0.5 s of CPU time (or module-level code more than 10 s). "
             "Limits count CPU time, so a busy machine does not cause this. The check runs at every "
             "env step: bound every loop, prefer vectorised numpy.",
    "CV303": "The child ran out of its 1 GiB address space. Allocate arrays the size of the frame.",
    "CV304": "A sub-task check must return a truth value (bool or np.bool_; progress a number). "
             "Wrap an array result in bool(...any()) or bool(...all()).",
    "CV305": "The check wrote into its observation (or into a module constant). Work on a copy: "
             "m = obs.copy().",
    "CV306": "The sandbox child was killed by a signal or crashed (segfault, abort). Usually a "
             "resource attack or a numpy call on a pathological shape.",
    "CV307": "The sandbox child exited without sending a result, e.g. the program called exit.",
    "CV308": "The child used more than 45 s of CPU in all (plus the compile budget in the native "
             "child): many calls each just under the per-call limit. Make each check cheaper.",
    "CV309": "Module-level code (constants) raised or exhausted a limit while loading.",
    "CV310": "A run-time guard refused an operation the static policy could not see, such as an "
             "object-dtype array or a forbidden keyword passed through a computed call.",
    "CV401": "The check raised on an observation hypothesis generated in the suite's shape and "
             "dtype. The report saves the shrunk frame as .npy; `carverify run` reproduces it.",
    "CV402": "The check returned a non-truth value on a generated observation (see CV304).",
    "CV403": "Two calls on the same observation gave different answers. Checks must be pure "
             "functions of the frame.",
    "CV404": "The check modified a generated observation (see CV305).",
    "CV405": "An interpreted call took over 250 ms on a generated observation.",
    "CV501": "In some expert episode the sub-task never became true. The check is too strict or "
             "reads the wrong colour, cell or channel; the message names the first missed seed.",
    "CV502": "The sub-task is already true on the first frame of an episode, so completing it "
             "earns nothing. Usually the check detects the object instead of the achieved state.",
    "CV503": "In expert episodes the sub-tasks became true in a different order than SUBTASKS lists, "
             "or two became true on the same frame although the simulator's facts for them do not "
             "(two checks that fire together usually test the same thing).",
    "CV504": "In random episodes the goal check fired on a frame where the environment reported "
             "no success: the reward would pay for a task not done.",
    "CV505": "The goal check stayed false when the environment reported success.",
    "CV506": "Against the suite's oracle, per-frame precision or recall on expert, random and "
             "perturbed episodes is below the threshold (0.9 by default, [thresholds] in suite.toml). "
             "Each sub-task is graded against its own fact: SUBTASKS are assigned one to one, in "
             "order, to the suite's facts (`carverify suites` lists them).",
    "CV507": "progress(obs) returned a value outside [0, 1], or NaN/inf. Clip it.",
    "CV508": "progress(obs) does not rise as the oracle's distance to the goal falls: its "
             "Spearman rank correlation over expert frames is below min_progress_spearman.",
    "CV509": "The check agrees better with an oracle fact that another sub-task holds (or that "
             "SUBTASKS' order rules out) than with its own. Usually one check was copied from "
             "another: a door_open that fires when the key is picked up.",
    "CV601": "numba could not compile the check in nopython mode. carverify already rewrites "
             "common spellings (axis reductions, reshape of slices, mask stores, generator "
             "expressions, arrays against tuples, tuple(pixel) comparisons, .astype(int), "
             "np.isclose); the message names the construct left over.",
    "CV602": "The compiled check disagreed with the restricted run on some frame, typically "
             "uint8 wrap-around (a - b on uint8 frames) or integer/float division. Cast to int first.",
    "CV603": "The compiled checks cost more than the suite's budget (50% of an env step plus "
             "render by default, [budget] compiled_step_fraction in suite.toml).",
    "CV604": "Not a verdict: the sandbox child made too little progress in wall-clock time while "
             "staying under every CPU limit, so the machine starved it (or it was stuck outside the "
             "program). The stage's status is error and the audit exits 3; retry it. Limits count "
             "CPU time; the wall clock is only a backstop several times each CPU budget.",
    "CV701": "The model's reply held no Python program. The next round asks again.",
    "CV702": "The model's reply ended inside the program (token limit). Raise max tokens or ask "
             "for a shorter program.",
    "CV801": "On the suite's coverage states (every reachable state of K MiniGrid layouts, or a "
             "spread of set states for continuous suites) the check disagrees with its own oracle "
             "fact on more than 1% of states. The message describes a disagreeing state in words: "
             "typically one off the expert's path (a door closed again, a key dropped elsewhere).",
    "CV802": "The compiled check, which is what training runs, gave a different answer from the "
             "interpreted program on a reachable state. See the README's list of Python/numba "
             "differences.",
    "CV803": "The compiled check raised, crashed or timed out on a reachable state that no episode "
             "showed: a payload, or an index off the frame. Training would meet that state.",
    "CV804": "The goal check fires on a reachable state where the environment reports no success. "
             "An agent finds such a state and farms the task bonus, so no tolerance applies.",
    "CV805": "progress(obs) is outside [0, 1] or not finite on a reachable state. Clip it.",
    "CV000": "carverify or its sandbox broke while checking; the program was not judged. Report "
             "it with the JSON report attached.",
}

STAGE_OF = {"1": "parse", "2": "policy", "3": "restricted", "4": "properties", "5": "trajectories",
            "6": "compile", "7": "generation", "8": "coverage", "0": "internal"}
