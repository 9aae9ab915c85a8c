"""Build the messages the loop sends, from the versioned templates in carverify/prompts/.

Templates use `{{name}}` placeholders; a missing or unknown one is an error, so a
template edit cannot silently send a half-filled prompt.  Editing a template changes
every request hash: bump PROMPT_VERSION, add the changed templates as files of the new
version (the others carry over from earlier versions), and re-record the transcripts.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carverify.errors import UsageError
from carverify.generate.images import data_url, png_bytes

PROMPT_VERSION = "v10"
TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "prompts"
# Image encoders of vision models resample to a few hundred pixels with smooth filters,
# which would blur 8-pixel tiles together; a nearest-neighbour enlargement keeps them sharp.
IMAGE_SCALE = 4
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def template_path(name: str, version: str = PROMPT_VERSION) -> Path | None:
    """`name` as of `version`: its file of that version, else of the latest earlier version
    that has one.  A new version holds only the templates it changes, not copies of the rest."""
    wanted = int(version.lstrip("v"))
    found = {}
    for path in TEMPLATE_DIR.glob(f"{name}.v*.md"):
        number = path.name[len(name) + 2:-3]
        if number.isdigit() and int(number) <= wanted:
            found[int(number)] = path
    return found[max(found)] if found else None


def template(name: str, version: str = PROMPT_VERSION) -> str:
    path = template_path(name, version)
    if path is None:
        raise UsageError(f"prompt template {TEMPLATE_DIR / f'{name}.{version}.md'} is missing")
    return path.read_text(encoding="utf-8")


def _own_observation(suite) -> str | None:
    """The suite author's `observation` text from suite.toml, if any; a clear error if it is not text."""
    own = suite.config.get("observation")
    if own is None:
        return None
    if not isinstance(own, str) or not own.strip():
        raise UsageError(f"suite {suite.name}: observation in suite.toml must be non-empty text, got {own!r}")
    return own.strip()


def fill(text: str, **values) -> str:
    wanted = set(_PLACEHOLDER.findall(text))
    missing, unused = wanted - values.keys(), values.keys() - wanted
    if missing or unused:
        raise ValueError(f"template placeholders {sorted(wanted)} do not match values {sorted(values)}")
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text).strip() + "\n"


@dataclass(frozen=True)
class Frames:
    """The two images of step 1: the first frame of expert seed 0 and its success frame."""

    initial: np.ndarray
    goal: np.ndarray

    @classmethod
    def of_suite(cls, suite, seed: int = 0) -> "Frames":
        from carverify.episodes import expert_episodes_for

        episode = expert_episodes_for(suite, [seed])[0]
        if episode.success_step is None:
            raise UsageError(f"suite {suite.name}: the expert does not solve seed {seed}, so there is no goal frame")
        return cls(initial=episode.frames[0], goal=episode.frames[episode.success_step])

    def pngs(self) -> dict[str, bytes]:
        return {"initial.png": png_bytes(self.initial, IMAGE_SCALE), "goal.png": png_bytes(self.goal, IMAGE_SCALE)}


def _geometry(suite, frame: np.ndarray) -> dict:
    tile = suite.tile_size
    return {"tile": tile, "height": frame.shape[0], "width": frame.shape[1],
            "rows": frame.shape[0] // tile, "cols": frame.shape[1] // tile}


def observation_text(suite, frame: np.ndarray) -> str:
    """What `obs` holds, for the program request: the suite author's own words (suite.toml
    `observation`), else the adapter's template.  Measured why: with one MiniGrid text for
    every suite, tabletop and Panda requests told the model about 8-pixel tiles and MiniGrid's
    colours, which those frames do not have."""
    own = _own_observation(suite)
    if own is not None:
        return own
    text = template(f"observation_{suite.adapter.prompt_observation}")
    wanted = set(_PLACEHOLDER.findall(text))
    values = {"height": frame.shape[0], "width": frame.shape[1]}
    if wanted & {"tile", "rows", "cols"}:
        values.update(_geometry(suite, frame))
    if "colours" in wanted:
        from carverify.generate.frames_text import colour_text

        values["colours"] = "\n".join("  " + line for line in colour_text(frame, most=10, least=0.001).splitlines()[1:])
    return fill(text, **{k: v for k, v in values.items() if k in wanted}).rstrip()


def system_message() -> dict:
    return {"role": "system", "content": fill(template("system"))}


def decompose_messages(suite, frames: Frames, *, images: bool = True) -> list[dict]:
    """Step 1's request; `images=False` for a text-only model: the frames rendered as text,
    and every message's content a plain string (llama.cpp's chat templates take no lists)."""
    if suite.obs_kind != "rgb":
        raise UsageError(f"suite {suite.name} observes '{suite.obs_kind}', not images: "
                         "generate needs an image suite")
    if not images:
        from carverify.generate.frames_text import frame_text

        text = fill(template("decompose_text"), env_id=suite.env_id, description=suite.description.strip(),
                    initial=frame_text(suite, frames.initial), goal=frame_text(suite, frames.goal))
        return [system_message(), {"role": "user", "content": text}]
    text = fill(template("decompose"), env_id=suite.env_id, description=suite.description,
                scale=IMAGE_SCALE, height=frames.initial.shape[0], width=frames.initial.shape[1])
    pngs = frames.pngs()
    content = [
        {"type": "text", "text": text},
        {"type": "text", "text": "Image 1: the first observation."},
        {"type": "image_url", "image_url": {"url": data_url(pngs["initial.png"])}},
        {"type": "text", "text": "Image 2: the observation when the task is solved."},
        {"type": "image_url", "image_url": {"url": data_url(pngs["goal.png"])}},
    ]
    return [system_message(), {"role": "user", "content": content}]


def parse_decomposition(reply: str) -> dict | None:
    """{"task": str, "subtasks": [{"name", "description"}]} from the reply, or None."""
    candidates = re.findall(r"```(?:json)?[ \t]*\n(.*?)```", reply, re.S)
    start, end = reply.find("{"), reply.rfind("}")
    if start >= 0 and end > start:
        candidates.append(reply[start:end + 1])
    for text in candidates:
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("subtasks"), list):
            continue
        subtasks = []
        for item in data["subtasks"]:
            if isinstance(item, str):
                item = {"name": item, "description": ""}
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                break
            subtasks.append({"name": item["name"].strip(), "description": str(item.get("description", "")).strip()})
        else:
            if subtasks:
                return {"task": str(data.get("task", "")).strip(), "subtasks": subtasks}
    return None


def identifier(name: str, taken: set[str] = frozenset()) -> str:
    """`name` as the snake_case identifier the program must use ("Pick up key" -> pick_up_key)."""
    ident = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    words = ident.split("_")
    while words and words[0][:1].isdigit():   # "1. ...", "2nd: ...": a list number, not part of the name
        words.pop(0)
    ident = "_".join(words) or "subtask"
    base, n = ident, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    return ident


def _names(decomposition: dict | None) -> list[str]:
    names: list[str] = []
    for item in (decomposition or {}).get("subtasks", []):
        name = item["name"]
        names.append(name if _IDENTIFIER.match(name) and name not in names else identifier(name, set(names)))
    return names


def _subtask_list(decomposition: dict | None) -> str:
    if decomposition is None:
        return "the sub-tasks you listed above, in that order."
    lines = []
    for i, (item, name) in enumerate(zip(decomposition["subtasks"], _names(decomposition)), 1):
        lines.append(f"{i}. `{name}`" + (f": {item['description']}" if item["description"] else ""))
    return "these sub-tasks, in this order:\n\n" + "\n".join(lines)


def skeleton_helpers(suite) -> str:
    """Helper code the skeleton starts with, from carverify/prompts/helpers_<prompt_observation>
    when the adapter's template has one (none when the suite gives its own `observation`).
    Measured why: shown the pixel helper as an example only (v7), the 1.5B model called it
    without defining it (CV202)."""
    if _own_observation(suite) is not None:
        return ""
    path = template_path(f"helpers_{suite.adapter.prompt_observation}")
    return path.read_text(encoding="utf-8").strip() if path is not None else ""


def skeleton(decomposition: dict | None, helpers: str = "") -> str:
    """The program's first lines and one stub per sub-task: a small model that starts from it
    cannot get SUBTASKS' form or the function names wrong (measured: the 0.5B model wrote
    `SUBTASKS = ("first_step")`, a string, and functions named unlike its sub-tasks)."""
    names = _names(decomposition)
    if not names:
        # Code, not a comment: the 0.5B model kept a commented SUBTASKS line "exactly as it is".
        return ("import numpy as np\n\n"
                "SUBTASKS = (\n    # your sub-task names from step 1, as strings, in order\n)"
                + ("\n\n\n" + helpers.strip() if helpers else ""))
    parts = ["import numpy as np\n\nSUBTASKS = (" + ", ".join(f'"{n}"' for n in names)
             + ("," if len(names) == 1 else "") + ")\n"]
    if helpers:
        parts.append("\n" + helpers.strip() + "\n")
    for item, name in zip(decomposition["subtasks"], names):
        what = " ".join(item["description"].split()) or name.replace("_", " ")
        parts.append(f"\ndef {name}(obs):\n    # True once: {what}\n    return False\n")
    return "\n".join(parts).rstrip("\n")


def program_message(suite, frames: Frames, decomposition: dict | None) -> dict:
    text = fill(template("program"), subtasks=_subtask_list(decomposition),
                skeleton=skeleton(decomposition, skeleton_helpers(suite)),
                observation=observation_text(suite, frames.initial))
    return {"role": "user", "content": text}


def refine_message(feedback: str) -> dict:
    return {"role": "user", "content": fill(template("refine"), feedback=feedback.strip())}


def as_text(messages: list[dict]) -> str:
    """A request as plain text for people (MLflow artifacts): images as placeholders."""
    from carverify.generate.images import image_digest

    out = []
    for message in messages:
        out.append(f"===== {message['role']} =====")
        content = message["content"]
        if isinstance(content, str):
            out.append(content.rstrip())
            continue
        for part in content:
            if part.get("type") == "image_url":
                out.append(f"[image sha256 {image_digest(part['image_url']['url'])[:16]}]")
            else:
                out.append(part.get("text", "").rstrip())
    return "\n".join(out) + "\n"
