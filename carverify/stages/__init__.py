"""The audit stages: each `check_<stage>(candidate, suite, *, config) -> StageResult`."""
from carverify.stages.static import check_parse, check_policy
from carverify.stages.restricted import check_restricted

__all__ = ["check_parse", "check_policy", "check_restricted"]
