"""The Hugging Face hub, as Studio asks it: what a repository holds, its variants and their
sizes, whether Studio can run it, and every failure said in one plain sentence.

All traffic goes through ``huggingface_hub`` (``HfApi.model_info`` with the files' metadata).
The hub's address is read from ``HF_ENDPOINT`` at each call and passed explicitly, because the
library reads its own constants once, at import (the tests' stand-in hub sets the variable
later). The token is the library's business: ``HF_TOKEN`` or a ``hf auth login``; Studio never
stores, logs or writes one.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

from studio.core.models.hub_layout import RepoFile, RepoLayout
from studio.errors import StudioError

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
#: Seconds to wait for the hub to answer a request: "offline" must be said within 10 s.
TIMEOUT = 7.0
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
TOKEN_HELP = "give Studio a token: set HF_TOKEN, or run `hf auth login`"

__all__ = ["RepoFile", "RepoListing", "endpoint", "hub_error", "inspect_repo", "check_repo_id"]


class HubError(StudioError):
    """The hub could not be reached, or refused: said in one plain sentence."""


def endpoint() -> str:
    """The hub's address now (``HF_ENDPOINT``, else huggingface.co)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def repo_page(repo_id: str) -> str:
    return f"{endpoint()}/{repo_id}"


def check_repo_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip().strip("/")
    for prefix in ("https://huggingface.co/", "http://huggingface.co/", "hf.co/", "huggingface.co/"):
        if repo_id.startswith(prefix):  # a pasted address of the repository's page
            repo_id = "/".join(repo_id[len(prefix):].split("/")[:2])
    if not REPO_ID.match(repo_id) or ".." in repo_id:
        raise HubError(f"{repo_id!r} is not a hub repository id: it looks like owner/name (onnx-community/Qwen2.5-0.5B-Instruct)")
    return repo_id


@dataclass
class RepoListing:
    """What a hub repository holds and what Studio can make of it."""

    repo_id: str
    revision: str  # the commit
    files: list[RepoFile]
    license: str = ""
    gated: bool = False
    variants: dict[str, int] = field(default_factory=dict)  # bytes each would download
    runnable: bool = False
    verdict: str = ""
    kind: str = ""  # "image" | "text" | "audio" | ""
    layout: RepoLayout | None = field(default=None, repr=False)

    @property
    def page(self) -> str:
        return repo_page(self.repo_id)


def library_log_to_ours() -> None:
    """huggingface_hub prints its warnings ("Trying to resume download...") on stderr through a
    handler of its own: the command line would show them beside its one sentence. They go to
    Studio's log file instead (where ``setup_logging`` sends Studio's own), or nowhere."""
    library = logging.getLogger("huggingface_hub")
    ours = [h for h in logging.getLogger("studio").handlers if getattr(h, "_studio", False)]
    for handler in list(library.handlers):
        if handler not in ours:
            library.removeHandler(handler)
    for handler in ours or [logging.NullHandler()]:
        library.addHandler(handler)
    library.propagate = False


def inspect_repo(repo_id: str, revision: str = "", token: str | None = None) -> RepoListing:
    """List ``repo_id`` at ``revision`` (main when empty): its files, variants and sizes, and the verdict.

    Raises ``HubError`` with one plain sentence when the hub cannot be reached (within
    ``TIMEOUT``), has no such repository or revision, or refuses."""
    from huggingface_hub import HfApi

    repo_id = check_repo_id(repo_id)
    library_log_to_ours()
    try:
        info = HfApi(endpoint=endpoint()).model_info(
            repo_id, revision=revision or None, files_metadata=True, timeout=TIMEOUT, token=token)
    except Exception as exc:  # every failure of the library becomes one sentence
        raise hub_error(exc, repo_id, revision) from None
    files = []
    for sibling in info.siblings or ():
        lfs = sibling.lfs
        files.append(RepoFile(sibling.rfilename, int(sibling.size or (lfs.size if lfs else 0) or 0),
                              lfs.sha256 if lfs else None, None if lfs else sibling.blob_id))
    layout = RepoLayout(files)
    runnable, verdict = layout.verdict()
    return RepoListing(
        repo_id=repo_id,
        revision=info.sha or revision,
        files=files,
        license=_license(info),
        gated=bool(info.gated),
        variants=layout.sizes(),
        runnable=runnable,
        verdict=verdict,
        kind=layout.kind(),
        layout=layout,
    )


def _license(info: Any) -> str:
    card = getattr(info, "card_data", None)
    value = card.get("license") if card is not None and hasattr(card, "get") else None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    if not value:
        value = next((t.split(":", 1)[1] for t in info.tags or () if isinstance(t, str) and t.startswith("license:")), "")
    return str(value or "")


def hub_error(exc: BaseException, repo_id: str, revision: str = "") -> HubError:
    """``exc`` from huggingface_hub (or the network below it) as one plain sentence."""
    from huggingface_hub import errors as hf_errors

    if isinstance(exc, HubError):
        return exc
    log.info("hub request for %s failed: %s: %s", repo_id, type(exc).__name__, exc)
    where = endpoint()
    status = getattr(getattr(exc, "response", None), "status_code", None)
    # By the hub's error code (X-Error-Code, which huggingface_hub turns into these classes), never
    # by the words of a message: "no such repository" mentions gated repos too.
    if isinstance(exc, hf_errors.GatedRepoError):
        return HubError(
            f"{repo_id} is gated: accept its license on the hub page {repo_page(repo_id)} (signed in), then {TOKEN_HELP}")
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return HubError(f"{repo_id} has no revision {revision or 'main'!r} on {where}")
    if isinstance(exc, hf_errors.RemoteEntryNotFoundError):
        return HubError(f"a file of {repo_id} is missing on {where}: {_first_line(exc)}")
    if isinstance(exc, hf_errors.RepositoryNotFoundError) or status == 404:
        return HubError(f"there is no repository {repo_id} on {where} (check the name; a private one needs a token: {TOKEN_HELP})")
    if status in (401, 403):
        return HubError(f"{where} refused access to {repo_id} ({status}): {TOKEN_HELP}, with access to that repository")
    if status is not None and status >= 500:
        return HubError(f"the hub at {where} is having trouble ({status}); try again later")
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return HubError("huggingface_hub is in offline mode (HF_HUB_OFFLINE is set): unset it to download")
    if _network(exc):
        return HubError(f"the hub at {where} cannot be reached: check the internet connection (or HF_ENDPOINT)")
    return HubError(f"the hub at {where} answered something Studio cannot use for {repo_id}: {_first_line(exc)}")


def _network(exc: BaseException) -> bool:
    # By the names of httpx2's transport errors (huggingface_hub's HTTP library, not ours to import).
    names = {"TransportError", "TimeoutException", "NetworkError", "LocalEntryNotFoundError"}
    chain: BaseException | None = exc
    while chain is not None:
        if isinstance(chain, (ConnectionError, TimeoutError)) or names & {c.__name__ for c in type(chain).__mro__}:
            return True
        chain = chain.__cause__ or chain.__context__
    return False


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(exc).__name__
