"""No credentials in the repository, the notebooks or their outputs.

Scans every file git tracks (or would track: new files not ignored) and everything executed into build/
(notebooks run by `make lab`, their HTML preview, the drills' figures) for the shapes of secrets: AWS key ids,
secret keys and session tokens, private keys, GitHub, Slack, Google and npm tokens, JSON web tokens, and
passwords written into code. The local stack's placeholder keys (labkit-local) are not secrets."""
from __future__ import annotations

import re
import subprocess

import pytest

from labkit.config import REPO_ROOT

PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws.{0,20}(?:secret|private).{0,20}['\"=:\s]\s*['\"]?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"),
    "AWS session token": re.compile(r"(?i)(?:aws_session_token|x-amz-security-token)['\"=:\s]+[A-Za-z0-9/+=]{100,}"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY( BLOCK)?-----"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "npm token": re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "password in code": re.compile(r"(?i)\b(?:password|passwd|pwd)\s*[=:]\s*['\"][^'\"\s]{6,}['\"]"),
}
BUILD_SUFFIXES = (".ipynb", ".html", ".json", ".jsonl", ".txt", ".log")


def repository_files() -> list:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [REPO_ROOT / name for name in listed if name and (REPO_ROOT / name).is_file()]


def build_outputs() -> list:
    build = REPO_ROOT / "build"
    return [p for p in build.rglob("*") if p.is_file() and p.suffix in BUILD_SUFFIXES and "vendor" not in p.parts] \
        if build.is_dir() else []


def findings(paths) -> list[str]:
    found = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary: images, archives
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(REPO_ROOT)}:{line}: {kind}")
    return found


def test_the_repository_holds_no_credentials():
    files = repository_files()
    assert len(files) > 50
    assert findings(files) == []


def test_executed_notebooks_and_build_outputs_hold_no_credentials():
    assert findings(build_outputs()) == []


@pytest.mark.parametrize("kind, planted", [
    ("AWS access key id", "AKIA" + "Q3EXAMPLE7WINDFA"),
    ("AWS secret access key", "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"),
    ("private key", "-----BEGIN " + "RSA PRIVATE KEY-----"),
    ("GitHub token", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    ("password in code", 'password = "' + 'hunter2hunter2"'),
])
def test_the_scan_finds_a_planted_secret(tmp_path, monkeypatch, kind, planted):
    monkeypatch.setattr("tests.security.test_credentials.REPO_ROOT", tmp_path)
    (tmp_path / "cell.ipynb").write_text('{"outputs": ["' + planted + '"]}')
    assert findings([tmp_path / "cell.ipynb"]) == [f"cell.ipynb:1: {kind}"]
