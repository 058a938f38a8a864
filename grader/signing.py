"""Signed results: proof that a ``result.json`` or ``summary.json`` came from the grader.

A result file is plain JSON that anyone can write: a candidate who controls a CI run can
upload ``"overall": 100`` as easily as the grader can. So the interviewer's grader signs
what it wrote, with a key the candidate never sees, and every reader (``verify``,
``summary``, ``report``) checks the signature before trusting a grade.

* **Canonical content.** The document without its ``signature`` field, serialised with
  sorted keys, no whitespace and UTF-8 (`canonical`). Re-indenting the file or reordering
  its keys keeps the signature valid; changing any value (a score, a message, the
  submission's hash) breaks it.
* **Provenance.** Before signing, a ``provenance`` block is added to the document (and so
  signed with it): the submission's sha256 and the assignment id (repeated from the result,
  and checked against it on verification), the harness that signed (version, git commit
  when the harness is a git checkout, and the digest of its sources that
  `grader.batch.code_digest` computes), and, in CI, the candidate's repository and commit.
* **Two signatures.** HMAC-SHA256 with a shared secret (``GRADER_SIGNING_KEY`` or a key
  file): whoever verifies can also sign, so it suits one interviewer or one organisation.
  Ed25519 (optional, the ``cryptography`` package): signed with a private key, verified
  with the public one, so reviewers can check grades without being able to make them. A
  document may carry both; each one present is checked when its key is at hand.
* **Verdicts.** ``verified`` (every signature that could be checked is valid, and at least
  one was), ``unsigned`` (no signature), ``INVALID`` (a signature or the provenance does not
  match the content: the file was edited after signing, or signed with another key), and
  ``unchecked`` (signed, but no key was given to check it).

Keys never leave this module: `Keys` does not print them, messages name where a key came
from (a variable, a file) and never its value, and only a key id (an HMAC of a fixed label,
or the public key's hash) is written into a signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from grader import __version__
from grader.config import TRUST, TrustConfig

SIGNATURE = "signature"
"""The top-level field holding the signature; the only field the signature does not cover."""
PROVENANCE = "provenance"
"""The top-level field holding where the document came from (signed with it)."""
SCHEME = "grader-signature/1"

HMAC_ENV = "GRADER_SIGNING_KEY"
"""The shared HMAC key, as text."""
ED25519_ENV = "GRADER_ED25519_KEY"
"""The Ed25519 private key, PEM text (a CI secret)."""
PUBLIC_ENV = "GRADER_PUBLIC_KEY"
"""The Ed25519 public key, PEM text (not a secret)."""
REPOSITORY_ENV = "GRADER_CANDIDATE_REPOSITORY"
COMMIT_ENV = "GRADER_CANDIDATE_COMMIT"

Status = Literal["verified", "unsigned", "INVALID", "unchecked"]


class SigningError(ValueError):
    """A key cannot be read or used (the message names its source, never its value)."""


@dataclass(frozen=True)
class Keys:
    """The keys at hand; any of them may be missing. ``repr`` never shows key material."""

    hmac: bytes | None = field(default=None, repr=False)
    private: Ed25519PrivateKey | None = field(default=None, repr=False)
    public: Ed25519PublicKey | None = field(default=None, repr=False)

    @property
    def can_sign(self) -> bool:
        return self.hmac is not None or self.private is not None

    @property
    def can_verify(self) -> bool:
        return self.hmac is not None or self.public is not None

    def __repr__(self) -> str:
        held = [n for n in ("hmac", "private", "public") if getattr(self, n) is not None]
        return f"Keys({', '.join(held) or 'none'})"


@dataclass(frozen=True)
class Verification:
    """What checking one document's signature found."""

    status: Status
    reason: str
    """In words, for the reader: which signatures were checked, or what did not match."""
    provenance: dict[str, Any] = field(default_factory=dict)
    """The signed provenance (empty when unsigned); trustworthy only when ``verified``."""

    @property
    def verified(self) -> bool:
        return self.status == "verified"


# --- keys ---------------------------------------------------------------------------------


def load_keys(
    hmac_file: str | None = None,
    private_file: str | None = None,
    public_file: str | None = None,
    environ: Mapping[str, str] = os.environ,
    trust: TrustConfig = TRUST,
) -> Keys:
    """The keys named by files (options) or, failing those, by environment variables."""
    secret = _read_key(hmac_file, "--signing-key-file") if hmac_file else None
    if secret is None and environ.get(HMAC_ENV):
        secret = environ[HMAC_ENV].strip().encode("utf-8")
    if secret is not None and len(secret) < trust.min_signing_key_bytes:
        source = hmac_file or HMAC_ENV
        raise SigningError(
            f"the HMAC key from {source} is {len(secret)} bytes, shorter than the "
            f"{trust.min_signing_key_bytes} required (make one with `openssl rand -hex 32`)"
        )
    private = public = None
    pem = _read_key(private_file, "--ed25519-key-file") if private_file else None
    pem = pem or (environ[ED25519_ENV].encode() if environ.get(ED25519_ENV) else None)
    if pem is not None:
        private = _private_key(pem, private_file or ED25519_ENV)
        public = private.public_key()
    pub_pem = _read_key(public_file, "--public-key") if public_file else None
    pub_pem = pub_pem or (environ[PUBLIC_ENV].encode() if environ.get(PUBLIC_ENV) else None)
    if pub_pem is not None:
        given = _public_key(pub_pem, public_file or PUBLIC_ENV)
        if public is not None and _raw(given) != _raw(public):
            raise SigningError("the public key given does not belong to the Ed25519 signing key")
        public = given
    return Keys(secret, private, public)


def _read_key(path: str, option: str) -> bytes:
    try:
        return Path(path).read_bytes().strip()
    except OSError as exc:
        raise SigningError(f"{option}: cannot read {path}: {exc.strerror}") from None


def _private_key(pem: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise SigningError(f"{source} is not a PEM private key without a password") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{source} is not an Ed25519 key")
    return key


def _public_key(pem: bytes, source: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise SigningError(f"{source} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{source} is not an Ed25519 public key")
    return key


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def hmac_key_id(secret: bytes) -> str:
    """A short id of an HMAC key that reveals nothing of it: the HMAC of a fixed label."""
    return hmac.new(secret, b"grader key id", hashlib.sha256).hexdigest()[:16]


def public_key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(key)).hexdigest()[:16]


# --- canonical content and provenance -----------------------------------------------------


def canonical(document: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the document without its signature, keys sorted, no
    whitespace, UTF-8, strict JSON (no NaN literals)."""
    body = {k: v for k, v in document.items() if k != SIGNATURE}
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def harness_identity() -> dict[str, Any]:
    """The grader doing the signing: its version, its git commit (when it runs from a git
    checkout, as the CI design installs it) and the digest of its sources."""
    from grader.batch import PROJECT_DIR, code_digest

    commit = None
    if (PROJECT_DIR / ".git").exists():
        try:
            done = subprocess.run(
                ["git", "-C", str(PROJECT_DIR), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            done = None
        if done is not None and done.returncode == 0:
            commit = done.stdout.strip()
    return {"version": __version__, "commit": commit, "code": code_digest()}


def provenance_for(
    document: Mapping[str, Any],
    repository: str | None = None,
    commit: str | None = None,
    harness: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The provenance block of a result (``kind: result``) or a batch summary."""
    block: dict[str, Any] = {
        "kind": "summary" if "submissions" in document else "result",
        "harness": dict(harness or harness_identity()),
        "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if block["kind"] == "result":
        submission = document.get("submission")
        block["submission_sha256"] = (
            submission.get("sha256") if isinstance(submission, dict) else None
        )
        block["assignment"] = document.get("assignment")
    if repository and block["kind"] == "result":
        block["repository"] = repository
    if commit and block["kind"] == "result":
        block["commit"] = commit
    return block


# --- signing and verifying ----------------------------------------------------------------


def sign_document(
    document: Mapping[str, Any], keys: Keys, provenance: Mapping[str, Any]
) -> dict[str, Any]:
    """A copy of ``document`` with ``provenance`` added and signed with every key at hand."""
    if not keys.can_sign:
        raise SigningError(f"no signing key: set {HMAC_ENV} or give --signing-key-file")
    signed = {k: v for k, v in document.items() if k not in (SIGNATURE, PROVENANCE)}
    signed[PROVENANCE] = dict(provenance)
    content = canonical(signed)
    signature: dict[str, Any] = {"scheme": SCHEME}
    if keys.hmac is not None:
        signature["hmac_sha256"] = hmac.new(keys.hmac, content, hashlib.sha256).hexdigest()
        signature["hmac_key_id"] = hmac_key_id(keys.hmac)
    if keys.private is not None:
        raw = keys.private.sign(content)
        signature["ed25519"] = base64.b64encode(raw).decode("ascii")
        signature["ed25519_key_id"] = public_key_id(keys.private.public_key())
    signed[SIGNATURE] = signature
    return signed


def verify_document(document: Any, keys: Keys) -> Verification:
    """Check ``document``'s signature(s) and provenance with the keys at hand."""
    if not isinstance(document, dict) or SIGNATURE not in document:
        return Verification("unsigned", "the file carries no signature")
    signature = document[SIGNATURE]
    provenance = document.get(PROVENANCE)
    if not isinstance(signature, dict) or signature.get("scheme") != SCHEME:
        return Verification("INVALID", f"the signature is not a {SCHEME} signature")
    if not isinstance(provenance, dict):
        return Verification("INVALID", "the signature has no provenance block")
    try:
        content = canonical(document)
    except (TypeError, ValueError) as exc:
        return Verification("INVALID", f"the content cannot be serialised: {exc}")
    checked: list[str] = []
    mac = signature.get("hmac_sha256")
    if mac is not None and keys.hmac is not None:
        expected = hmac.new(keys.hmac, content, hashlib.sha256).hexdigest()
        if not isinstance(mac, str) or not hmac.compare_digest(mac, expected):
            return Verification("INVALID", _mismatch("HMAC", signature, keys), provenance)
        checked.append("HMAC-SHA256")
    sig = signature.get("ed25519")
    if sig is not None and keys.public is not None:
        try:
            keys.public.verify(base64.b64decode(str(sig), validate=True), content)
        except (InvalidSignature, ValueError):
            return Verification("INVALID", _mismatch("Ed25519", signature, keys), provenance)
        checked.append("Ed25519")
    if mac is None and sig is None:
        return Verification("INVALID", "the signature block holds no signature", provenance)
    if not checked:
        held = " and ".join(n for n, v in (("HMAC", mac), ("Ed25519", sig)) if v is not None)
        return Verification(
            "unchecked", f"signed ({held}), but no key was given to check it", provenance
        )
    problem = _provenance_problem(document, provenance)
    if problem:
        return Verification("INVALID", problem, provenance)
    return Verification("verified", f"{' and '.join(checked)} signature valid", provenance)


def _mismatch(kind: str, signature: Mapping[str, Any], keys: Keys) -> str:
    """Why a signature does not match: the content changed, or another key signed it."""
    if kind == "HMAC" and keys.hmac is not None:
        ours, theirs = hmac_key_id(keys.hmac), signature.get("hmac_key_id")
    elif keys.public is not None:
        ours, theirs = public_key_id(keys.public), signature.get("ed25519_key_id")
    else:  # pragma: no cover - only called with the key at hand
        ours = theirs = None
    if theirs is not None and theirs != ours:
        return f"the {kind} signature was made with another key (key id {str(theirs)[:16]}, expected {ours})"
    return (
        f"the {kind} signature does not match the content: the file was changed after it was signed"
    )


def _provenance_problem(document: Mapping[str, Any], provenance: Mapping[str, Any]) -> str:
    """A signed provenance that contradicts the signed result (a signer's bug, or a result
    signed for another submission) makes the result INVALID too."""
    if provenance.get("kind") != "result":
        return ""
    submission = document.get("submission")
    sha = submission.get("sha256") if isinstance(submission, dict) else None
    if provenance.get("submission_sha256") != sha:
        return "the provenance names another submission (sha256) than the result grades"
    if provenance.get("assignment") != document.get("assignment"):
        return "the provenance names another assignment than the result"
    return ""


# --- files --------------------------------------------------------------------------------

RESULT_FILES = ("result.json", "summary.json")
"""What ``sign`` and ``verify`` look for inside a folder."""


def find_documents(paths: list[str]) -> list[Path]:
    """Files named directly, and every result.json and summary.json under folders."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.json") if p.name in RESULT_FILES)
        elif path.is_file():
            found.append(path)
        else:
            raise SigningError(f"no such file or folder: {name}")
    return list(dict.fromkeys(found))


def read_checked(path: Path) -> Any:
    """The JSON of a result or summary file, checked to be one (a `ReportError` if not)."""
    from grader.report.files import ReportError, read_json, result_from_data

    data = read_json(path)
    if isinstance(data, dict) and "submissions" in data:
        if not isinstance(data["submissions"], list):
            raise ReportError(f"{path}: malformed summary: 'submissions' is not a list")
    else:
        result_from_data(data, path)
    return data


def verify_file(path: Path, keys: Keys) -> Verification:
    """Check one file; a file that cannot be read as a result is INVALID, with the reason."""
    from grader.report.files import ReportError

    try:
        data = read_checked(path)
    except ReportError as exc:
        return Verification("INVALID", str(exc).removeprefix(f"{path}: "))
    return verify_document(data, keys)


def sign_file(
    path: Path,
    keys: Keys,
    repository: str | None = None,
    commit: str | None = None,
    harness: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Sign a result or summary file in place; returns the provenance signed. Refuses (a
    `SigningError`) a file whose existing signature does not verify with these keys:
    re-signing it would launder an edit."""
    from grader.report.files import ReportError, atomic_write_text, dump_json

    try:
        data = read_checked(path)
    except ReportError as exc:
        raise SigningError(str(exc)) from None
    if SIGNATURE in data:
        found = verify_document(data, keys)
        if not found.verified:
            raise SigningError(
                f"{path}: refused: it already carries a signature that is {found.status} "
                f"({found.reason})"
            )
    provenance = provenance_for(data, repository, commit, harness)
    atomic_write_text(path, dump_json(sign_document(data, keys, provenance)))
    return provenance
