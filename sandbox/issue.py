"""The sandbox's own finding record (carverify converts it to a Finding)."""
from typing import NamedTuple


class Issue(NamedTuple):
    code: str
    message: str
    line: int | None = None
    col: int | None = None
    hint: str | None = None
    subtask: str | None = None

    def to_json(self) -> dict:
        return self._asdict()

    @classmethod
    def from_json(cls, data: dict) -> "Issue":
        return cls(**{k: data.get(k) for k in cls._fields})
