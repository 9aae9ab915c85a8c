"""Request hashing and replay: model-independent, image-encoding-independent, clear misses."""
import json

import numpy as np
import pytest

from carverify.errors import UsageError
from carverify.generate.images import data_url, image_digest, png_bytes, pixels_of
from carverify.generate.providers import Completion, ReplayMiss, ReplayProvider
from carverify.generate.transcripts import TranscriptWriter, canonical_messages, request_hash

FRAME = (np.arange(16 * 24 * 3) % 251).astype(np.uint8).reshape(16, 24, 3)


def messages(png: bytes, text: str = "describe") -> list[dict]:
    return [{"role": "system", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": text},
                                         {"type": "image_url", "image_url": {"url": data_url(png)}}]}]


def test_png_round_trips_through_pillow():
    from io import BytesIO

    from PIL import Image

    png = png_bytes(FRAME, scale=3)
    decoded = np.asarray(Image.open(BytesIO(png)).convert("RGB"))
    assert decoded.shape == (48, 72, 3) and (decoded[::3, ::3] == FRAME).all()
    assert pixels_of(png)[:2] == (72, 48)


def test_hash_ignores_how_the_png_was_compressed():
    png = png_bytes(FRAME)
    # The same pixels, deflated differently (as another zlib build may do).
    other = png_bytes(FRAME, level=1)
    assert other != png
    assert image_digest(data_url(other)) == image_digest(data_url(png))
    assert request_hash(messages(other)) == request_hash(messages(png))


def test_hash_changes_with_pixels_and_text_but_not_with_model():
    png = png_bytes(FRAME)
    changed = FRAME.copy()
    changed[0, 0, 0] ^= 1
    assert request_hash(messages(png_bytes(changed))) != request_hash(messages(png))
    assert request_hash(messages(png, "other")) != request_hash(messages(png))
    canon = canonical_messages(messages(png))
    assert canon[1]["content"][1] == {"type": "image", "sha256": image_digest(data_url(png))}
    assert "model" not in json.dumps(canon)


def test_record_then_replay(tmp_path):
    request = messages(png_bytes(FRAME))
    writer = TranscriptWriter(tmp_path / "t.json", suite="s", provider="openai", model="m1", prompt_version="v1")
    writer.add(step="program", round=1, messages=request,
               completion=Completion("reply text", {"total_tokens": 5}, 1.5, request_hash(request), "stop", "m1"))
    saved = json.loads((tmp_path / "t.json").read_text())
    assert saved["format"] == "carverify-transcript" and saved["authored"] is False
    assert "base64" not in (tmp_path / "t.json").read_text()  # images are stored as digests only
    got = ReplayProvider(tmp_path).complete(request, model="a-different-model")
    assert (got.text, got.usage, got.finish_reason) == ("reply text", {"total_tokens": 5}, "stop")


def test_miss_names_the_request_the_difference_and_how_to_record(tmp_path):
    request = messages(png_bytes(FRAME))
    writer = TranscriptWriter(tmp_path / "t.json", suite="s", provider="openai", model="m", prompt_version="v1")
    writer.add(step="program", round=1, messages=request,
               completion=Completion("r", {}, 0.0, request_hash(request), "stop", "m"))
    other = messages(png_bytes(FRAME), "describe it")
    with pytest.raises(ReplayMiss) as info:
        ReplayProvider(tmp_path, suite_name="minigrid-x").complete(other, model="m")
    text = str(info.value)
    assert f"request sha256 {request_hash(other)[:16]} is not recorded in {tmp_path}" in text
    assert "closest recording differs at message 2 (user) line 1: 'describe it' vs recorded 'describe'" in text
    assert text.endswith("record it with: carverify generate --suite minigrid-x --provider openai --record")
    assert isinstance(info.value, UsageError) and "\n" not in text


def test_empty_folder_and_foreign_json(tmp_path):
    with pytest.raises(ReplayMiss, match="no recorded exchanges in"):
        ReplayProvider(tmp_path / "none").complete(messages(png_bytes(FRAME)), model="m")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(UsageError, match="is not a carverify transcript"):
        ReplayProvider(tmp_path)
