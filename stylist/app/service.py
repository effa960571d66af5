"""The running app: the shared models and stores, and one object per concern that the page's tabs call.

`ui/` is only layout; every action a page can take is a method of `access`, `visitors`, `suggestions`, `votes`,
`refine` or `catalog`, so it can be tested without a browser (tests/test_service.py) and the same rules (who
may do what, how big an upload may be) hold for every visitor.

    python app.py --catalog demo --data-dir data
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from pathlib import Path

from stylist.app.access import Access
from stylist.app.active_catalog import ActiveCatalog, open_catalog, served_paths
from stylist.app.config import AppConfig
from stylist.app.model_thread import ModelThread
from stylist.app.refine_control import RefineControl
from stylist.app.refine_worker import RefineWorker
from stylist.app.suggestions import Suggestions, load_preference
from stylist.app.visitors import Visitors
from stylist.app.votes import Votes
from stylist.core.adapters import AdapterRegistry
from stylist.core.errors import StylistError
from stylist.core.feedback import open_store
from stylist.core.paths import data_dir
from stylist.models.captioner import Captioner
from stylist.recommend.recommender import Recommender


class Stylist:
    """Everything one app process shares between visitors. Its models run on `models` (`ModelThread`), which
    should be the thread building it, so that one thread ever runs them."""

    def __init__(self, config: AppConfig, visitors: Visitors | None = None, models: ModelThread | None = None):
        from stylist.models.lm import with_initial_adapter  # torch and transformers: see StartingStylist

        self.config = config
        config.lm.check()
        self.data = data_dir(config.data_dir)
        self.access = Access(config)
        store = visitors.store if visitors else open_store(config.db, self.data)
        self.visitors = visitors or Visitors(self.data, config, store)
        self.models = models or ModelThread(config.model_threads)
        captioner = Captioner.load(config.captioner)
        catalog = open_catalog(config.catalog, self.data, captioner)
        # version 0: the adapter named with the LLM, the embedded SFT adapter, or a fresh LoRA for an LLM named
        # without one; the PMI reference of every refined version and where the refine worker starts
        lm = with_initial_adapter(config.lm, self.data / "adapters")
        registry = AdapterRegistry(self.data / "adapters", lm.adapter, store)
        recommender = Recommender.load(catalog, llm=lm, embedder=config.embedder, data=self.data)
        preference = load_preference()
        self.catalog = ActiveCatalog(catalog, self.data, self.access, captioner, recommender, self.models)
        self.suggestions = Suggestions(self.access, captioner, recommender, registry, store, preference, config.per_slot,
                           self.visitors, self.models)
        self.votes = Votes(self.access, store, preference, self.visitors, self.models)
        self.refine = RefineControl(self.access, registry, RefineWorker(self.data, lm, store), store,
                                 config.refine_args)

    def served_paths(self) -> list[str]:
        return served_paths(self.data)


READY = "stylist: models loaded, suggestions are served"  # printed once a StartingStylist has loaded


class StartingStylist:
    """A `Stylist` whose models load in a background thread while the page is built and served: what building
    the page needs (config, data folder, access rules, visitors, served folders) is here at once, every other
    attribute waits for the models. Loading them is most of a start; a visitor's first request waits for the
    rest. A failure to load ends the process with its one-line error, as it would before serving."""

    def __init__(self, config: AppConfig):
        config.lm.check()  # an impossible device request is refused before serving
        self.config = config
        self.data: Path = data_dir(config.data_dir)
        self.access = Access(config)
        # a page gets its visitor id and name at once; an unreachable store ends the start here, in one line
        self.visitors = Visitors(self.data, config, open_store(config.db, self.data))
        self._loaded = threading.Event()
        self._app: Stylist | None = None
        self._models = ModelThread(config.model_threads)
        threading.Thread(target=self._load, name="load-models", daemon=True).start()

    def _load(self) -> None:
        try:
            self._app = self._models.run(self._start)
        except StylistError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            os._exit(2)
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
        self._loaded.set()
        print(READY, file=sys.stderr, flush=True)

    def _start(self) -> Stylist:
        """The app, its models loaded and warmed up on the thread that will run them."""
        app = Stylist(self.config, self.visitors, self._models)
        app.suggestions.warm_up()
        return app

    def served_paths(self) -> list[str]:
        return served_paths(self.data)

    def __getattr__(self, name: str):
        self._loaded.wait()
        return getattr(self._app, name)
