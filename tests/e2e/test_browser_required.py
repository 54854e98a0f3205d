"""The guard that keeps `make test` honest: with RESERVOIR_REQUIRE_BROWSER (make test and
.ci/run set it) a skipped browser test is reported as a failure, not a quiet skip.

The guard is tests/e2e/conftest.py's pytest_runtest_makereport; this loads that conftest as
a plugin into a separate pytest run over throw-away tests, with and without the variable.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

THROWAWAY = textwrap.dedent(
    """
    import pytest

    def test_skipped_for_want_of_a_browser():
        pytest.skip("Debian chromium is not installed")

    @pytest.mark.xfail(reason="a known failure", strict=True)
    def test_expected_failure():
        assert False

    def test_passes():
        assert True
    """
)


def _run(tmp_path: Path, *, require: bool) -> subprocess.CompletedProcess:
    (tmp_path / "test_throwaway.py").write_text(THROWAWAY)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RESERVOIR_REQUIRE_BROWSER", None)
    if require:
        env["RESERVOIR_REQUIRE_BROWSER"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-W", "ignore::DeprecationWarning",
         "-p", "no:cacheprovider", "-p", "no:django", "-p", "tests.e2e.conftest",
         "-c", str(tmp_path / "pytest.ini"), str(tmp_path / "test_throwaway.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_skipped_browser_test_fails_when_the_browser_is_required(tmp_path):
    run = _run(tmp_path, require=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed, 1 xfailed" in run.stdout, run.stdout
    assert "browser test skipped, which RESERVOIR_REQUIRE_BROWSER forbids" in run.stdout
    assert "Debian chromium is not installed" in run.stdout


def test_without_the_requirement_a_skip_is_a_skip(tmp_path):
    run = _run(tmp_path, require=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 1 skipped, 1 xfailed" in run.stdout, run.stdout
