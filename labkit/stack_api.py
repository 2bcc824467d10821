"""The local stack's own HTTP API (health, status, simulator, inbox, Flink logs): the one client every caller uses.

    stack_api.get("/api/status")
    stack_api.post("/api/simulator/start", {"stream": "WindDataStream"}, timeout_s=120)

Every failure becomes a sentence: StackNotRunning when nothing answers on the service port, else the stack's
own `{"error": sentence}` (BadParameter for HTTP 400, LabError for the rest). A caller that knows more about
one refusal passes `refusal`, which may turn the error body into a better LabError.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable

from .config import Settings, settings
from .errors import BadParameter, LabError, StackNotRunning

DEFAULT_TIMEOUT_S = 30
Refusal = Callable[[dict], "LabError | None"]


def get(path: str, timeout_s: float = DEFAULT_TIMEOUT_S, refusal: Refusal | None = None,
        s: Settings | None = None, **query) -> Any:
    """GET `path` (query parameters from the keywords, None left out) and return the decoded JSON."""
    kept = {key: value for key, value in query.items() if value is not None}
    return _call(path + (f"?{urllib.parse.urlencode(kept)}" if kept else ""), None, timeout_s, refusal, s)


def post(path: str, body: dict | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
         refusal: Refusal | None = None, s: Settings | None = None) -> Any:
    """POST `body` as JSON to `path` and return the decoded JSON answer."""
    return _call(path, json.dumps(body or {}).encode(), timeout_s, refusal, s)


def _call(path: str, data: bytes | None, timeout_s: float, refusal: Refusal | None, s: Settings | None) -> Any:
    base = (s or settings()).service_url
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise _refused(error, path, refusal) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise _slow(path, timeout_s) from error
        raise StackNotRunning(f"nothing answers on {base}") from error
    except TimeoutError as error:
        raise _slow(path, timeout_s) from error
    except OSError as error:  # the connection dropped: the stack went away while answering
        raise StackNotRunning(f"{base} closed the connection") from error
    except ValueError as error:
        raise LabError(f"the local stack answered {path} with something that is not JSON; "
                       "`labkit down` then `labkit up` restarts it.") from error


def _refused(error: urllib.error.HTTPError, path: str, refusal: Refusal | None) -> LabError:
    """The stack's error body as a sentence."""
    try:
        answer = json.load(error)
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    better = refusal(answer) if refusal else None
    if better is not None:
        return better
    sentence = answer.get("error") or (f"the local stack answered HTTP {error.code} to {path}; "
                                       "its log (stack.log in the state folder) says why.")
    return (BadParameter if error.code == 400 else LabError)(sentence)


def _slow(path: str, timeout_s: float) -> LabError:
    return LabError(f"the local stack did not answer {path} within {timeout_s:g} s; it may be busy. "
                    "`labkit status` shows what it is doing.")
