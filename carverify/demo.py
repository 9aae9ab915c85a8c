"""`carverify demo`: audit the bundled example programs and print one line per program."""
from __future__ import annotations

import time
from pathlib import Path

from carverify.suite import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"
SUITE = "minigrid-doorkey-5x5"


def run_demo(*, track: bool = True, tracking_uri: str | None = None) -> int:
    from sandbox import SandboxPool
    from carverify.audit import audit_file
    from carverify.config import AuditConfig

    programs = sorted(EXAMPLES.glob("*.py"))
    print(f"Auditing {len(programs)} example programs against {SUITE}\n")
    print(f"{'program':<28} {'verdict':<9} {'seconds':>7}  first finding")
    rows = []
    with SandboxPool() as pool:
        config = AuditConfig(pool=pool)
        for path in programs:
            start = time.perf_counter()
            report = audit_file(path, SUITE, config=config)
            if track:
                from carverify.tracking import log_audit
                log_audit(report, path.read_text(encoding="utf-8"), tracking_uri=tracking_uri,
                          run_name=f"demo:{path.name}")
            first = report.findings[0].render(path.name) if report.findings else ""
            print(f"{path.name:<28} {report.verdict:<9} {time.perf_counter() - start:>7.2f}  {first[:90]}")
            rows.append(report)
    accepted = sum(r.verdict == "accepted" for r in rows)
    print(f"\n{accepted} accepted, {len(rows) - accepted} rejected.")
    if track:
        from carverify.tracking import default_tracking_uri
        uri = tracking_uri or default_tracking_uri()
        print(f"MLflow runs logged to {uri}; browse with: .venv/bin/mlflow ui --backend-store-uri {uri}")
    return 0
