"""The stylist web app: `python app.py` serves it on http://127.0.0.1:7860 (`python app.py --help` for options).

Only wiring: the models and stores are `stylist.app.service.Stylist`, the page is `stylist.app.ui.interface.build_ui`.

    python app.py --catalog demo --data-dir data
    STYLIST_ADMIN_PASSWORD=... python app.py --host 0.0.0.0   # a public address needs a password
    python app.py --auth alice:pw1 --auth bob:pw2              # sign-in; the login name is the visitor id
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import sys
import warnings

from stylist.core.errors import StylistError
from stylist.models.spec import LMSpec


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", default="demo", help="'demo' (default), a photo folder, or a catalog .json")
    parser.add_argument("--captioner", default=None, help="captioner folder or HF id (default: checkpoints/captioner)")
    LMSpec.add_arguments(parser, adapter_help="LoRA adapter trained for that LLM: version 0, where refining starts "
                                              "(default: the embedded SFT adapter for the embedded LLM; a fresh LoRA, "
                                              "saved in the data folder, for another LLM)")
    parser.add_argument("--embedder", default=None,
                        help="sentence embedder folder or HF id (default: checkpoints/embedder)")
    parser.add_argument("--data-dir", default=None, help="writable folder for feedback and adapter versions "
                                                         "(default: $STYLIST_DATA_DIR or ./data)")
    parser.add_argument("--db", default=os.environ.get("STYLIST_DB"), metavar="postgresql://USER@HOST/DB",
                        help="keep votes, names and the active adapter version in this PostgreSQL database, which "
                             "several replicas share (default: $STYLIST_DB, else SQLite in the data folder)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--auth", action="append", default=[], metavar="USER:PASSWORD",
                        help="require sign-in (repeat for each user; or STYLIST_USERS=u1:p1,u2:p2); without it "
                             "each browser gets its own anonymous visitor id")
    parser.add_argument("--insecure", action="store_true",
                        help="allow a non-local --host without STYLIST_ADMIN_PASSWORD (anyone could refine)")
    parser.add_argument("--model-threads", type=int, default=1,
                        help="torch threads of the thread that runs the models (default 1: on 2 cores the other "
                             "core serves pages and refines; more on a larger machine)")
    parser.add_argument("--monitoring", action="store_true",
                        help="turn on Gradio's monitoring dashboard (off by default: its key is printed to the log "
                             "for whoever opens /monitoring)")
    parser.add_argument("--verbose", action="store_true",
                        help="show the model libraries' progress bars and warnings while the models load")
    parser.add_argument("--refine-args", default="", help=argparse.SUPPRESS)  # e.g. "--steps 4" (tests: a tiny refine)
    return parser.parse_args(argv)


def check_host(host: str, password: str | None, insecure: bool) -> None:
    """Refuse to listen beyond this machine with no admin password, unless the user insists."""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = host == "localhost"
    if not local and not password and not insecure:
        raise StylistError(f"--host {host} makes the app reachable from other machines: set STYLIST_ADMIN_PASSWORD "
                           "(it protects refine, export and catalog edits) or pass --insecure")


def parse_users(pairs: list[str]) -> list[tuple[str, str]] | None:
    """`user:password` pairs for Gradio's sign-in; None (no sign-in) when there are none."""
    users = []
    for pair in pairs:
        name, _, password = pair.partition(":")
        if not name.strip() or not password:
            raise StylistError(f"--auth / STYLIST_USERS: expected USER:PASSWORD, got {pair!r}")
        users.append((name.strip(), password))
    return users or None


def quiet_loading() -> None:
    """No "Loading weights" bars or library deprecation warnings at start-up: they say nothing a visitor or the
    person running the app can act on, and bury the app's own lines. Set before transformers is imported."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|trl|torch)(\.|$)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.verbose:
        quiet_loading()
    # Gradio rebuilds a pandas summary of its last 10,000 events after every event (its monitoring page, which the
    # app does not use): under load that was a tenth of the server's time
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    try:
        check_host(args.host, os.environ.get("STYLIST_ADMIN_PASSWORD"), args.insecure)  # refuse before loading
        if args.model_threads < 1:
            raise StylistError(f"--model-threads must be at least 1, got {args.model_threads}")
        users = parse_users(args.auth or [p for p in os.environ.get("STYLIST_USERS", "").split(",") if p.strip()])
        from starlette.middleware import Middleware

        from stylist.app.access import BodyLimit, WebGuard, own_origin_only
        from stylist.app.config import AppConfig
        from stylist.app.service import StartingStylist
        from stylist.app.ui.interface import CSS, THEME, build_ui, crowding, public_api, with_queue

        config = AppConfig(catalog=args.catalog, captioner=args.captioner, lm=LMSpec.from_args(args),
                           embedder=args.embedder, data_dir=args.data_dir, db=args.db, model_threads=args.model_threads,
                           refine_args=shlex.split(args.refine_args), monitoring=args.monitoring)
        app = StartingStylist(config)  # the models load while the page is built and served
    except StylistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from gradio.route_utils import CustomCORSMiddleware

    CustomCORSMiddleware.is_valid_origin = own_origin_only
    demo = with_queue(build_ui(app), config)
    demo.launch(
        server_name=args.host, server_port=args.port, theme=THEME, css=CSS, allowed_paths=app.served_paths(),
        max_file_size=f"{config.max_upload_mb:g}mb", footer_links=["gradio", "settings"], run_history=False,
        auth=users, enable_monitoring=config.monitoring,
        app_kwargs={"middleware": [Middleware(BodyLimit, limit=config.max_request_bytes),
                                   Middleware(WebGuard, public=public_api(demo), crowded=crowding(demo, config))]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
