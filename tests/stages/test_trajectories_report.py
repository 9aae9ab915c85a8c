"""What the trajectories stage's report says it did not check."""
import re
import shutil

from carverify.audit import audit_file
from carverify.suite import load_suite

STAGES = ("parse", "policy", "restricted", "trajectories")


def test_a_suite_without_perturbed_play_says_so(tmp_path):
    bundled = load_suite("minigrid-doorkey-5x5")
    folder = tmp_path / bundled.name   # the folder is named like the suite
    shutil.copytree(bundled.path, folder)
    toml = folder / "suite.toml"
    text = toml.read_text()
    assert "[episodes]\n" in text
    # Few episodes (this copy's cache is cold), and none perturbed.
    text = re.sub(r"expert_seeds = \[[^\]]*\]", "expert_seeds = [0, 1, 2]", text)
    text = re.sub(r"random_seeds = \[[^\]]*\]", "random_seeds = [1000, 1001, 1002]", text)
    toml.write_text(text.replace("[episodes]\n", "[episodes]\nperturbed_seeds = []\n", 1))
    program = bundled.path / "programs" / "tile_probes.py"

    quiet = audit_file(program, load_suite(str(folder)), stages=STAGES).stage("trajectories")
    assert quiet.status == "passed" and quiet.metrics["perturbed_episodes"] == 0.0
    assert quiet.skipped_checks["perturbed play"].startswith("no perturbed episodes")
    usual = audit_file(program, bundled, stages=STAGES).stage("trajectories")
    assert usual.metrics["perturbed_episodes"] > 0 and "perturbed play" not in usual.skipped_checks
