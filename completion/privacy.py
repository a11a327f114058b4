"""What may leave the machine: local-only files by pattern, and files (or snippets) holding a secret.

A remote backend gets a prompt only when :meth:`PrivacyPolicy.route` allows the document, and only with
snippets from files it allows; the finished prompt text is scanned once more before it is sent. Secrets are
found with the ``detect-secrets`` library's format detectors (private keys, AWS/GitHub/GitLab/Slack/Stripe/
OpenAI/PyPI/npm… tokens, JWTs, basic-auth URLs) and its keyword detector (``password = "..."``), without its
high-entropy-string detectors, which flag ordinary code. Scanning costs about a millisecond per line, so results
are kept per line text: a keystroke rescans one line.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import pathspec

from syntax.options import list_option, option

DEFAULT_LOCAL_ONLY = [
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.kdbx",
    "*.keystore",
    "*.jks",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".git-credentials",
    "credentials*",
    "**/secrets/**",
    "**/.ssh/**",
    "**/.aws/**",
    "*.tfstate",
]

# detect-secrets plugins used: every format detector and the keyword one; not the entropy detectors, nor
# IPPublicDetector (addresses in code are not credentials).
_NOISY_PLUGINS = {"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector"}
_FILTERS = [
    "detect_secrets.filters.heuristic.is_sequential_string",
    "detect_secrets.filters.heuristic.is_potential_uuid",
    "detect_secrets.filters.heuristic.is_likely_id_string",
    "detect_secrets.filters.heuristic.is_templated_secret",
    "detect_secrets.filters.heuristic.is_prefixed_with_dollar_sign",
    "detect_secrets.filters.heuristic.is_indirect_reference",
    "detect_secrets.filters.heuristic.is_not_alphanumeric_string",
]
_LINE_CACHE_SIZE = 200_000
_ROUTES_KEPT = 64


@dataclass
class PrivacyOptions:
    local_only: list[str] = list_option(
        DEFAULT_LOCAL_ONLY,
        "Gitignore-style patterns of files never sent to a remote server (not as the "
        "document, a cross-file snippet or context). The defaults cover the usual secret files.",
        restricted=True,
    )
    detect_secrets: bool = option(
        True,
        "A file in which a secret (private key, access token, password assignment) is "
        "detected is local-only while it holds one; snippets holding one are never sent.",
        restricted=True,
    )


@dataclass(frozen=True)
class Route:
    """Whether a document's content may go to a remote server, and why not."""

    remote: bool
    reason: str = ""  # "matches .env*", "secret detected at line 3 (Private Key)"

    def describe(self) -> str:
        return "remote allowed" if self.remote else f"local only: {self.reason}"


class SecretScanner:
    """detect-secrets over lines, with a per-line cache shared by all documents."""

    def __init__(self) -> None:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

        classes: list[type] = list(get_mapping_from_secret_type_to_class().values())
        plugins = sorted(plugin.__name__ for plugin in classes)
        self._settings = {
            "plugins_used": [{"name": name} for name in plugins if name not in _NOISY_PLUGINS],
            "filters_used": [{"path": path} for path in _FILTERS],
        }
        self._cache: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()  # detect-secrets' settings are process-global

    def first_secret(self, lines: Iterable[str]) -> tuple[int, str] | None:
        """(0-based line, kind) of the first line holding a secret, or None."""
        for number, line in enumerate(lines):
            kind = self._line(line)
            if kind is not None:
                return number, kind
        return None

    def _line(self, line: str) -> str | None:
        line = line.rstrip()
        if len(line) < 8:
            return None
        with self._lock:
            if line in self._cache:
                self._cache.move_to_end(line)
                return self._cache[line]
            kind = self._scan(line)
            self._cache[line] = kind
            if len(self._cache) > _LINE_CACHE_SIZE:
                self._cache.popitem(last=False)
            return kind

    def _scan(self, line: str) -> str | None:
        from detect_secrets.core.scan import _process_line_based_plugins
        from detect_secrets.settings import transient_settings

        with transient_settings(self._settings):
            found = next(iter(_process_line_based_plugins([(1, line)], "document")), None)
        return None if found is None else str(found.type)


class PrivacyPolicy:
    def __init__(self, options: PrivacyOptions | None = None, scanner: SecretScanner | None = None) -> None:
        self.options = options or PrivacyOptions()
        self._patterns = [
            (pattern, pathspec.GitIgnoreSpec.from_lines([pattern])) for pattern in self.options.local_only
        ]
        self._scanner = scanner
        self._routes: dict[str | None, tuple[str, Route]] = {}
        self._routes_lock = threading.Lock()

    @property
    def scanner_if_made(self) -> SecretScanner | None:
        """The scanner with its line cache, for the policy that replaces this one (None before first use)."""
        return self._scanner

    @property
    def scanner(self) -> SecretScanner:
        if self._scanner is None:
            self._scanner = SecretScanner()
        return self._scanner

    def matching_pattern(self, path: str | None) -> str | None:
        """The localOnly pattern ``path`` matches (relative or absolute, any separator), or None."""
        if not path:
            return None
        posix = PurePosixPath(path.replace("\\", "/"))
        candidates = [str(posix)] + [str(PurePosixPath(*posix.parts[i:])) for i in range(1, len(posix.parts))]
        for pattern, spec in self._patterns:
            if any(spec.match_file(candidate.lstrip("/")) for candidate in candidates):
                return pattern
        return None

    def route(self, path: str | None, text: str) -> Route:
        """May this document's content be sent to a remote server? (The last answer per path is kept: a
        request asks for its document and each snippet's file, and the next keystroke asks again.)"""
        with self._routes_lock:
            known = self._routes.get(path)
        if known is not None and known[0] == text:
            return known[1]
        route = self._route(path, text)
        with self._routes_lock:
            self._routes[path] = (text, route)
            while len(self._routes) > _ROUTES_KEPT:
                self._routes.pop(next(iter(self._routes)))
        return route

    def _route(self, path: str | None, text: str) -> Route:
        pattern = self.matching_pattern(path)
        if pattern is not None:
            return Route(False, f"matches {pattern}")
        if self.options.detect_secrets:
            found = self.scanner.first_secret(text.split("\n"))
            if found is not None:
                return Route(False, f"secret detected at line {found[0] + 1} ({found[1]})")
        return Route(True)

    def allows_snippet(self, path: str, text: str, file_text: str | None = None) -> bool:
        """A cross-file snippet may be sent: neither it nor its whole file (where known) is local-only. The
        file's route is the one kept per path; the snippet itself is only scanned (its lines are cached)."""
        if file_text is not None and not self.route(path, file_text).remote:
            return False
        return self._route(path, text).remote

    def prompt_is_clean(self, texts: Sequence[str]) -> bool:
        """The last check before sending: no line of the finished prompt holds a secret."""
        if not self.options.detect_secrets:
            return True
        return all(self.scanner.first_secret(text.split("\n")) is None for text in texts)
