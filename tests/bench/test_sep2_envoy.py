"""The helpers of `make bench`'s side-by-side with the reference server (bench.sep2_envoy).

No load is run here: these check what the bench sends envoy and how it finds envoy's
source, so a wrong path or a wrong certificate shows up as a failing test, not as a
column of 404s or 403s in the bench's table."""

import hashlib
import subprocess
from urllib.parse import quote

import pytest

from bench import sep2, sep2_envoy
from protocol import pki
from protocol.identity import sfdi_is_valid

SEED = {"group": 7, "devices": [[11, 21], [12, 22]], "header": "unused"}


def test_envoy_mix_is_reservoirs_mix_with_envoys_der_id():
    ours = sep2.endpoints(SEED)
    theirs = sep2_envoy.envoy_endpoints(SEED)

    assert [(label, method, body) for label, method, _, body in theirs] == [
        (label, method, body) for label, method, _, body in ours
    ]
    paths = {label: paths for label, _, paths, _ in theirs}
    assert paths["PUT ders"] == ["/edev/11/der/1/ders", "/edev/12/der/1/ders"]
    assert paths["GET derc?l=10"] == ["/edev/11/derp/7/derc?l=10", "/edev/12/derp/7/derc?l=10"]
    assert paths["POST mmr (4 readings)"] == ["/mup/21", "/mup/22"]


def test_lfdi_from_header_is_the_certificate_hash_envoy_computes():
    cert = pki.create_client_certificate(pki.create_root_ca(), "bench", role="aggregator")
    header = quote(cert.cert_pem.decode(), safe="")

    lfdi = sep2_envoy.lfdi_from_header(header)

    assert lfdi == hashlib.sha256(cert.cert_der).hexdigest()[:40]


def test_site_identities_are_unique_with_valid_sfdis():
    identities = sep2_envoy.site_identities(300)

    assert len({lfdi for lfdi, _ in identities}) == 300
    assert len({sfdi for _, sfdi in identities}) == 300
    assert all(len(lfdi) == 40 and int(lfdi, 16) >= 0 for lfdi, _ in identities)
    assert all(sfdi_is_valid(sfdi) for _, sfdi in identities)


def test_asyncpg_url_keeps_everything_but_the_driver():
    url = "postgresql://postgres@127.0.0.1:5432/x_envoy"

    assert sep2_envoy.asyncpg_url(url) == "postgresql+asyncpg://postgres@127.0.0.1:5432/x_envoy"


def _git(repo, *argv):
    subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True)


def test_extract_source_takes_head_of_a_git_snapshot(tmp_path):
    repo = tmp_path / "envoy"
    (repo / "src/envoy").mkdir(parents=True)
    (repo / "uv.lock").write_text("version = 1\n")
    (repo / "src/envoy/__init__.py").write_text('"""x"""\n\n__version__ = "9.8.7"\n')
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.email=b@e", "-c", "user.name=b", "commit", "-q", "-m", "one")

    found = sep2_envoy.extract_source(str(repo), tmp_path / "home")

    assert found["version"] == "9.8.7"
    assert len(found["commit"]) == 40
    assert (found["src"] / "uv.lock").read_text() == "version = 1\n"
    assert not (found["src"] / ".git").exists()


def test_extract_source_says_why_it_cannot(tmp_path):
    with pytest.raises(sep2_envoy.EnvoyUnavailable, match="no envoy snapshot"):
        sep2_envoy.extract_source(str(tmp_path / "missing"), tmp_path / "home")
    (tmp_path / "tree").mkdir()
    with pytest.raises(sep2_envoy.EnvoyUnavailable, match=r"no uv\.lock"):
        sep2_envoy.extract_source(str(tmp_path / "tree"), tmp_path / "home")


def test_recorded_figures_come_with_the_reason(capsys):
    sep2_envoy.print_recorded("no snapshot here")

    out = capsys.readouterr().out
    assert out.splitlines()[0] == "envoy not run: no snapshot here"
    for label, (rate, _, _) in sep2.ENVOY_RECORDED.items():
        assert any(line.startswith(label) and f" {rate} " in line for line in out.splitlines())
