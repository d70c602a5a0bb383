""".dockerignore: the build context Docker would send for `COPY . .` holds no secrets, local state or virtualenv, and
holds everything the image runs.

The context is computed as Docker computes it: the file is read as moby's `ignorefile.ReadAll` reads it, and each
path is matched as `patternmatcher.MatchesOrParentMatches` matches it (github.com/moby/patternmatcher, which
BuildKit uses to filter the context). The tree is a copy of the tracked files with decoys added (.env, var/ with
development secrets and a SQLite database, a .venv, a .git directory, bytecode), so the test means the same on a
clean clone as on a working copy full of local state."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parent.parent

# ---- Docker's .dockerignore semantics (moby/patternmatcher), ported ---------------------------------------------


def _clean(path: str) -> str:
    """Go's filepath.Clean for slash-separated paths."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_dockerignore(text: str) -> list[str]:
    """ignorefile.ReadAll: comments and blank lines dropped, spaces trimmed, patterns cleaned, a leading / removed."""
    patterns = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = _clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


_REGEX_SPECIAL = set(".+()|{}$")


def _compile(pattern: str) -> re.Pattern[str]:
    """patternmatcher's Pattern.compile: `*` and `?` stop at /, `**` crosses directories, `\\` escapes."""
    regex = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < len(pattern) and pattern[i] == "*":
                i += 1
                if i < len(pattern) and pattern[i] == "/":  # treat **/ as **
                    i += 1
                regex += ".*" if i == len(pattern) else "(.*/)?"
            else:
                regex += "[^/]*"
        elif ch == "?":
            regex += "[^/]"
        elif ch in _REGEX_SPECIAL:
            regex += "\\" + ch
        elif ch == "\\":
            if i < len(pattern):
                regex += "\\" + pattern[i]
                i += 1
            else:
                regex += "\\\\"
        else:  # [ and ] stay character classes, as in Go's filepath.Match
            regex += ch
    return re.compile(regex + "$", re.DOTALL)


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    exclusion: bool


class DockerIgnore:
    """patternmatcher.PatternMatcher: the last pattern that matches a path, or one of its parent directories, wins."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = []
        for raw in patterns:
            pattern = _clean(raw.strip())
            exclusion = pattern.startswith("!")
            if exclusion:
                pattern = pattern[1:]
                assert pattern, "illegal exclusion pattern: '!'"
            self.patterns.append(_Pattern(_compile(_clean(pattern)), exclusion))

    def ignores(self, path: str) -> bool:
        """MatchesOrParentMatches(path), path relative to the context root with / separators."""
        matched = False
        parent = str(PurePosixPath(path).parent)
        parent_dirs = parent.split("/")
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # an inclusion of a path already excluded, or an exclusion of one not yet excluded
            match = bool(pattern.regex.match(path))
            if not match and parent != ".":
                match = any(pattern.regex.match("/".join(parent_dirs[: i + 1])) for i in range(len(parent_dirs)))
            if match:
                matched = not pattern.exclusion
        return matched


def build_context(root: Path, dockerignore: Path) -> set[str]:
    """The files Docker sends as the build context of `root` (symlinks included as entries, not followed)."""
    matcher = DockerIgnore(read_dockerignore(dockerignore.read_text()) if dockerignore.exists() else [])
    sent = set()
    for directory, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if (Path(directory) / d).is_symlink()]:
            relative = (Path(directory) / name).relative_to(root).as_posix()
            if not matcher.ignores(relative):
                sent.add(relative)
    return sent


# ---- the matcher agrees with Docker's documented examples ---------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        (["*/temp*"], "somedir/temporary.txt", True),
        (["*/temp*"], "temp", False),
        (["*/*/temp*"], "somedir/subdir/temporary.txt", True),
        (["temp?"], "tempa", True),
        (["temp?"], "temp/x", False),
        # Unlike .gitignore, a bare name is anchored at the root of the context.
        (["var"], "var/dev-secrets/SECRET_KEY", True),
        (["var"], "docs/var/x", False),
        (["**/__pycache__"], "accounts/__pycache__/models.cpython-311.pyc", True),
        (["**/*.go"], "a/b/c.go", True),
        (["**/*.go"], "c.go", True),
        (["*.md", "!README*.md", "README-secret.md"], "README.md", False),
        (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
        (["*.md", "!README*.md", "README-secret.md"], "docs/USER_GUIDE.md", False),
        (["/.env"], ".env", True),
        (["./var/"], "var/x", True),
        (["docs/screenshots"], "docs/screenshots/a.png", True),
    ],
)
def test_matcher_follows_dockers_rules(patterns, path, ignored):
    assert DockerIgnore(read_dockerignore("\n".join(patterns))).ignores(path) is ignored


def test_reading_drops_comments_blank_lines_and_cleans_patterns():
    text = "# a comment\n\n  .env  \n! .env.example\n/var/\n./.venv\n"
    assert read_dockerignore(text) == [".env", "!.env.example", "var", ".venv"]


# ---- the real .dockerignore ---------------------------------------------------------------------------------------

DECOYS = {
    ".env": "SECRET_KEY=decoy\n",
    ".env.production": "SECRET_KEY=decoy\n",
    "var/dev-secrets/SECRET_KEY": "decoy",
    "var/dev-secrets/FIELD_ENCRYPTION_KEYS": "decoy",
    "var/dev-secrets/AUDIT_HMAC_KEY": "decoy",
    "var/drainboard.sqlite3": "decoy",
    "var/broker/queue/msg.json": "{}",
    "var/kubesim/kubeconfig": "decoy",
    "var/test/test-db.sqlite3": "decoy",
    ".venv/bin/python": "decoy",
    ".venv/pyvenv.cfg": "decoy",
    ".git/HEAD": "ref: refs/heads/main\n",
    ".git/config": "decoy",
    "accounts/__pycache__/models.cpython-311.pyc": "decoy",
    "config/settings.pyc": "decoy",
    ".mypy_cache/3.11/x.json": "{}",
    ".ruff_cache/x": "decoy",
    ".pytest_cache/v/x": "decoy",
    "db.sqlite3": "decoy",
    "clusters/ca.pem": "decoy",
    "docs/screenshots/request-blocked.png": "decoy",
}


@pytest.fixture
def checkout(tmp_path) -> Path:
    """The tracked files (a clean clone), this working copy's .dockerignore, and local state that must stay out."""
    tree = tmp_path / "checkout"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    if (ROOT / ".dockerignore").exists():
        shutil.copy2(ROOT / ".dockerignore", tree / ".dockerignore")
    for name, content in DECOYS.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(content)
    return tree


def test_build_context_leaves_out_secrets_local_state_and_the_virtualenv(checkout):
    context = build_context(checkout, checkout / ".dockerignore")
    leaked = sorted(name for name in DECOYS if name in context)
    assert leaked == [], f"these would be baked into the image by `COPY . .`: {leaked}"
    assert not any(name.startswith(("var/", ".venv/", ".git/")) for name in context)


def test_build_context_holds_what_the_image_runs(checkout):
    context = build_context(checkout, checkout / ".dockerignore")
    for needed in ("manage.py", "requirements.txt", "Dockerfile", ".env.example", "config/settings.py"):
        assert needed in context, needed
    tracked = {p.relative_to(checkout).as_posix() for p in checkout.rglob("*") if p.is_file()} - set(DECOYS)
    apps = ("accounts", "audit", "clusters", "evictions", "notifications", "config", "kubesim", "templates", "static")
    needed_files = {name for name in tracked if name.split("/", 1)[0] in apps}
    assert len(needed_files) > 100  # every source file, migration, template and vendored static file
    assert needed_files - context == set()
    for app in ("audit", "clusters", "evictions", "notifications"):
        assert f"{app}/migrations/0001_initial.py" in context, app
