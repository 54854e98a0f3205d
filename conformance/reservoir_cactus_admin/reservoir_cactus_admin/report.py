"""A run's report: the first failing check from a cactus log, the table, and JUnit XML.
No cactus import here (Reservoir's test suite checks it: tests/conformance/)."""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Outcome:
    procedure: str
    result: str  # PASS, FAIL, ERROR (the harness could not set it up), SKIP
    first_failure: str = ""
    seconds: float = 0.0
    output_dir: str = ""
    warnings: list[str] = field(default_factory=list)


FAILED_STEP = re.compile(r"(\S+)\[\d+\] Attempt \d+: (?:.*) has been marked as failed: (.*)")
CHECK_FAILURE = re.compile(r"(\S+)\[\d+\] Attempt \d+: Check Failure: (.*)")
EXCEPTION = re.compile(r"(\S+)\[\d+\] Attempt \d+: Exception raised during action/check: (.*)")
TIMEOUT = re.compile(r"Aborting test due to timeout after (\d+) seconds")
XSD = re.compile(r"xsd", re.IGNORECASE)


def first_failure(log: str) -> str:
    """The first failing check a cactus log names: a step marked failed, else an exception,
    else (a repeat-until-pass step that never passed) the last check failure, with the
    timeout."""
    lines = log.splitlines()
    for pattern in (FAILED_STEP, EXCEPTION):
        for line in lines:
            if m := pattern.search(line):
                return f"{m.group(1)}: {m.group(2)}"
    checks = [m for line in lines if (m := CHECK_FAILURE.search(line))]
    timeout = next((m.group(1) for line in lines if (m := TIMEOUT.search(line))), None)
    if checks:
        last = checks[-1]
        suffix = f" (still failing at the {timeout} s timeout)" if timeout else ""
        return f"{last.group(1)}: {last.group(2)}{suffix}"
    if timeout:
        return f"timed out after {timeout} s"
    xsd = [line for line in lines if XSD.search(line) and "error" in line.lower()]
    if xsd:
        return xsd[0][-300:]
    return ""


def render_table(outcomes: list[Outcome]) -> str:
    width = 140
    rows = [("procedure", "result", "first failing check")]
    rows += [(o.procedure, o.result, o.first_failure) for o in outcomes]
    out = []
    for p, r, f in rows:
        f = " ".join(f.split())
        f = f if len(f) <= width else f[: width - 1] + "…"
        out.append(f"| {p:<9} | {r:<6} | {f}")
    passed = sum(o.result == "PASS" for o in outcomes)
    out.append(f"{passed} of {len(outcomes)} passed")
    return "\n".join(out)


def write_junit(outcomes: list[Outcome], path: Path, seconds: float) -> None:
    suite = ET.Element(
        "testsuite",
        name="cactus-client",
        tests=str(len(outcomes)),
        failures=str(sum(o.result == "FAIL" for o in outcomes)),
        errors=str(sum(o.result == "ERROR" for o in outcomes)),
        skipped=str(sum(o.result == "SKIP" for o in outcomes)),
        time=f"{seconds:.1f}",
    )
    for o in outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="conformance.cactus",
            name=o.procedure,
            time=f"{o.seconds:.1f}",
        )
        if o.result in ("FAIL", "ERROR"):
            tag = "failure" if o.result == "FAIL" else "error"
            node = ET.SubElement(case, tag, message=o.first_failure[:500])
            node.text = f"{o.first_failure}\noutput: {o.output_dir}"
        elif o.result == "SKIP":
            ET.SubElement(case, "skipped", message=o.first_failure)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)
