"""What `app.py` passes to the app: models, catalog, data folder and the limits a visitor meets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from stylist.models.spec import LMSpec


@dataclass
class AppConfig:
    """The defaults are the committed models and the demo catalog."""

    catalog: str = "demo"
    captioner: str | None = None
    lm: LMSpec = field(default_factory=LMSpec)  # the outfit LLM, its adapter (version 0), device, dtype, 4-bit
    embedder: str | None = None
    data_dir: str | None = None
    db: str | None = field(default_factory=lambda: os.environ.get("STYLIST_DB") or None)  # postgresql:// (None: SQLite)
    admin_password: str | None = field(default_factory=lambda: os.environ.get("STYLIST_ADMIN_PASSWORD") or None)
    max_photos: int = 4
    max_catalog_photos: int = 20  # per "add to catalog" request
    max_upload_mb: float = 10.0
    request_megapixels: float = 80  # decoded per request (a JPEG at its reduced scale): one image at the limit and more
    per_slot: int = 3  # suggestions shown per missing slot
    caption_chars: int = 200  # a five-word caption needs ~40; longer text only slows everyone's LM calls
    tag_chars: int = 40  # occasion and season
    search_chars: int = 100
    votes_per_minute: int | None = 30  # per visitor, so no one visitor dominates a refine (None: no limit)
    votes_per_minute_per_address: int | None = 90  # per network address, whatever visitor ids it holds
    visitors_per_minute_per_address: int | None = 20  # new visitor ids one address may get (page loads, API)
    large_photos_per_minute_per_address: int | None = 6  # over 4 megapixels decoded: seconds of a core each
    export_seconds: float = 120  # an export's download link works this long, then the file is deleted
    concurrency: int = 4  # requests served at once; the rest wait in the queue
    model_threads: int = 1  # torch threads of the one thread that runs the models (stylist/app/model_thread.py)
    queue_size: int = 64  # beyond this many waiting requests, a visitor is told to try again
    queue_per_address: int = 6  # requests one address may have waiting or running: no client holds the queue
    heavy_queue: int = 12  # captioning requests waiting at most (they run one at a time), so they leave room
    monitoring: bool = False  # Gradio's monitoring dashboard (its key is printed to the log when asked for)
    cache_seconds: int = 1800  # uploads and page files older than this are deleted from Gradio's cache
    refine_args: list[str] = field(default_factory=list)  # extra `python -m stylist refine` options (tests: tiny)

    @property
    def max_request_bytes(self) -> int:
        """The largest request body the server reads: a full set of photos at the size limit, plus 1 MB."""
        return int((self.max_upload_mb * self.max_photos + 1) * 1e6)
