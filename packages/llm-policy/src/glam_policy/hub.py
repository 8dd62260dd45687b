"""Where a model comes from: a local directory, the Hugging Face cache, or the hub.

Asked for a hub name with no network, transformers retries for about 30 s before
saying that it found nothing. Loading decides first, once per name:

- a local directory never touches the network;
- anything else must be a hub name (``name`` or ``owner/name``), else the error
  says it is neither;
- offline mode (``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1``, or the
  config's ``local_files_only``), or a hub that gives no answer to one request
  within :data:`PROBE_TIMEOUT_S`, means "the cache only": transformers is called
  with ``local_files_only=True``, so a cached model loads at once, and a model
  that is not cached fails at once, in one line saying why.

The probe's answer is kept for the life of the process (:func:`hub_reachable`
with ``refresh=True`` asks again): a process that loads several models waits at
most once.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants as hub_constants
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.utils import HFValidationError, get_session, validate_repo_id

from glam_policy.errors import ModelLoadError

logger = logging.getLogger(__name__)

#: Seconds the hub has to answer one request before it counts as unreachable.
PROBE_TIMEOUT_S = 3.0
_TRUE = {"1", "true", "yes", "on"}
_reachability: dict[str, bool] = {}
_reachability_lock = threading.Lock()


@dataclass(frozen=True)
class ModelSource:
    """How to load ``name``: from a directory, or the hub with or without the network.

    ``cache_only`` asks transformers for ``local_files_only=True``; ``why_cache_only``
    is the reason, for the error when the cache does not have the model.
    """

    name: str
    is_directory: bool
    cache_only: bool
    why_cache_only: str | None = None


def offline_mode() -> bool:
    """Whether the user put the hub in offline mode (read now, not at import)."""
    if hub_constants.HF_HUB_OFFLINE:
        return True
    return any(
        os.environ.get(variable, "").strip().lower() in _TRUE
        for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_endpoint() -> str:
    """The hub transformers would ask (``HF_ENDPOINT`` or huggingface.co)."""
    return str(hub_constants.ENDPOINT)


def hub_cache_dir() -> str:
    """The cache transformers reads hub models from (``HF_HUB_CACHE``, ``HF_HOME``)."""
    return str(hub_constants.HF_HUB_CACHE)


def _probe(endpoint: str, timeout: float) -> None:
    """One HEAD request to the hub; raises when no HTTP answer comes back.

    Any status counts as an answer: a mirror that refuses ``HEAD /`` is still there.
    The hub's own HTTP client is used so that its proxy settings apply.
    """
    get_session().head(endpoint, timeout=timeout)


def hub_reachable(*, timeout: float | None = None, refresh: bool = False) -> bool:
    """Whether the hub answers one request within ``timeout`` seconds.

    The request runs in a daemon thread that is abandoned at the deadline, so a
    name lookup that hangs (no DNS) cannot hold the caller past ``timeout``.
    """
    endpoint = hub_endpoint()
    with _reachability_lock:
        if not refresh and endpoint in _reachability:
            return _reachability[endpoint]
    limit = PROBE_TIMEOUT_S if timeout is None else timeout
    answers: list[bool] = []

    def attempt() -> None:
        try:
            _probe(endpoint, limit)
        except Exception as error:  # httpx errors, OSError, anything: no answer
            logger.debug("hub %s did not answer: %s: %s", endpoint, type(error).__name__, error)
            answers.append(False)
        else:
            answers.append(True)

    thread = threading.Thread(target=attempt, name="glam-hub-probe", daemon=True)
    thread.start()
    thread.join(limit)
    reachable = bool(answers) and answers[0]
    with _reachability_lock:
        _reachability[endpoint] = reachable
    if not reachable:
        logger.info("hub %s unreachable: loading models from the local cache only", endpoint)
    return reachable


def is_hub_name(name: str) -> bool:
    """Whether ``name`` has the form of a hub model id (``name`` or ``owner/name``)."""
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def in_hub_cache(name: str, revision: str | None = None) -> bool:
    """Whether the hub cache holds the model's ``config.json`` (a download happened)."""
    try:
        found = try_to_load_from_cache(name, "config.json", revision=revision)
    except Exception:  # an id the cache cannot even look up is not in it
        return False
    return isinstance(found, str)


def resolve_source(name: str, *, local_files_only: bool = False) -> ModelSource:
    """Decide how ``name`` loads, probing the hub only for a hub name that may need it.

    Raises :class:`~glam_policy.errors.ModelLoadError` for a name that is neither
    a directory nor a hub id (a mistyped path, a file).
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return ModelSource(name, is_directory=True, cache_only=False)
    if path.exists():
        raise ModelLoadError(name, "is a file, not a model directory (config.json and weights)")
    if not is_hub_name(name):
        raise ModelLoadError(
            name,
            "no such directory, and not a Hugging Face hub name ('name' or 'owner/name')",
        )
    if local_files_only:
        return ModelSource(name, False, True, "local_files_only is set")
    if offline_mode():
        return ModelSource(name, False, True, "offline mode is on (HF_HUB_OFFLINE=1)")
    if not hub_reachable():
        return ModelSource(
            name,
            False,
            True,
            f"the hub ({hub_endpoint()}) is unreachable (no answer within {PROBE_TIMEOUT_S:g} s)",
        )
    return ModelSource(name, is_directory=False, cache_only=False)


def require_cached(source: ModelSource, revision: str | None = None) -> None:
    """Fail at once, in one line, when a cache-only hub model is not in the cache."""
    if not source.cache_only or source.is_directory or in_hub_cache(source.name, revision):
        return
    raise ModelLoadError(
        source.name,
        f"not a local directory and not in the Hugging Face cache ({hub_cache_dir()}), "
        f"and {source.why_cache_only}; download it once where the hub is reachable "
        f"(`hf download {source.name}`) or give the path of a model directory",
    )
