"""One exception type for everything a user can cause, so the CLI and UI can show one clear line."""


class StylistError(Exception):
    """A problem with the user's input or environment, reported as one line without a traceback."""
