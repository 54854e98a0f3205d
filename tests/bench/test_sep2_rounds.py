"""How `make bench`'s 2030.5 sections turn wrk runs into a figure and a ratio.

The servers of one endpoint are run back to back in each round, and a ratio is the median
of the rounds' ratios, so a drift of the machine's load between rounds is not read as one
server being faster. No load is run here: wrk is replaced by a recorder.
"""

import argparse

import pytest

from bench import sep2, sep2_envoy
from portal import processes


def figures(rate: float, p50_us: int = 1000, p99_us: int = 2000, errors: int = 0) -> dict:
    return {"rate": rate, "p50_us": p50_us, "p99_us": p99_us, "status": errors, "socket": 0}


def test_rounds_run_every_server_back_to_back_and_split_the_seconds(monkeypatch, tmp_path):
    calls = []
    rates = iter([100, 1000, 300, 1100, 200, 1200])

    def fake_wrk(url, paths, method, headers, body, args, tmp):
        calls.append((url, method, args.seconds))
        return figures(next(rates))

    monkeypatch.setattr(sep2, "wrk", fake_wrk)
    args = argparse.Namespace(seconds=6.0, rounds=3, threads=2, connections=16)
    loads = {
        "ours": sep2.Load("http://a", ["/x"], "PUT", {"h": "1"}, "<b/>"),
        "ceiling": sep2.Load("http://c", ["/212"]),
    }

    runs = sep2.interleaved(loads, args, tmp_path)

    assert [url for url, _, _ in calls] == ["http://a", "http://c"] * 3
    assert {seconds for _, _, seconds in calls} == {2}
    assert [r["rate"] for r in runs["ours"]] == [100, 300, 200]
    assert sep2.median(runs["ours"])["rate"] == 200
    # Per round: 0.1, 0.2727, 0.1667 -> the median round's ratio, not 200 / 1100.
    assert sep2.ratio(runs["ours"], runs["ceiling"]) == pytest.approx(200 / 1200)


def test_median_sums_errors_and_takes_each_latency_median():
    runs = [figures(10, 5, 50, 1), figures(30, 1, 90, 0), figures(20, 3, 70, 2)]

    assert sep2.median(runs) == {
        "rate": 20,
        "p50_us": 3,
        "p99_us": 70,
        "status": 3,
        "socket": 0,
    }


def test_a_server_that_answered_nothing_has_no_ratio():
    assert sep2.ratio([figures(10)], [figures(0)]) is None
    assert sep2_envoy._ratio(None, [figures(10)]).strip() == "-"
    assert sep2_envoy._ratio([figures(30)], [figures(10)]).strip() == "3.00"


def test_one_second_rounds_at_least():
    args = argparse.Namespace(seconds=2.0, rounds=5)

    assert sep2.per_round(args).seconds == 1


def test_the_ceiling_reads_the_same_request_headers_as_the_server_beside_it():
    headers = {"X-SSL-Client-Cert": "%2D" * 500, "X-Reservoir-Proxy-Secret": "s"}

    load = sep2.ceiling_load(8001, 212, headers)

    assert (load.url, load.paths, load.method, load.body) == (
        "http://127.0.0.1:8001",
        ["/212"],
        "GET",
        None,
    )
    assert load.headers == headers


def test_the_bench_starts_the_listener_with_the_production_command_line():
    env = {"RESERVOIR_WORKERS": "5", "DATABASE_URL": "x"}

    argv = sep2.listener_argv(8002, 1, env)

    assert argv == processes.argv(
        "sep2", {"RESERVOIR_SEP2_BIND": "127.0.0.1:8002", "RESERVOIR_WORKERS": "1"}
    )
    assert "--no-proxy-headers" in argv
    assert set(sep2.UVICORN_OPTIONS) <= set(argv)
