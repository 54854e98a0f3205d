"""A small, synchronous client for Reservoir's /api/v1 (token auth, JSON)."""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


def _http_only(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"The API address must be http(s): {url!r}")
    return url


class ApiError(Exception):
    """A refused or failed API call: the method, path, status and the server's answer."""

    def __init__(self, method: str, path: str, status: int, body: str):
        self.method, self.path, self.status, self.body = method, path, status, body
        super().__init__(f"{method} {path} -> {status}: {body[:400]}")


@dataclass(frozen=True)
class Api:
    base_url: str  # e.g. http://127.0.0.1:9050/api/v1
    token: str
    utility: str = ""  # the utility's slug (X-Reservoir-Utility), when the user has several
    timeout_s: float = 30.0

    def __post_init__(self):
        _http_only(self.base_url)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        url = self.base_url.rstrip("/") + "/" + path.lstrip("/")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http only)
        request.add_header("Authorization", f"Token {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.utility:
            request.add_header("X-Reservoir-Utility", self.utility)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                raw = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise ApiError(method, path, exc.code, exc.read().decode(errors="replace")) from exc
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body if body is not None else {})

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)

    def all(self, path: str) -> list:
        """Every row of a paged list."""
        rows: list = []
        sep = "&" if "?" in path else "?"
        page = self.get(f"{path}{sep}limit=1000")
        while True:
            if isinstance(page, list):
                return rows + page
            rows.extend(page["results"])
            if not page.get("next"):
                return rows
            nxt = page["next"]
            page = self.get(nxt[nxt.index("/api/v1/") + len("/api/v1/") :])


def token_for(base_url: str, username: str, password: str, timeout_s: float = 30.0) -> str:
    """An API token from a user's credentials (POST /api/v1/auth/token/)."""
    url = _http_only(base_url).rstrip("/") + "/auth/token/"
    data = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 (http only)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return json.loads(response.read())["token"]
    except urllib.error.HTTPError as exc:
        raise ApiError("POST", "auth/token/", exc.code, exc.read().decode()) from exc
