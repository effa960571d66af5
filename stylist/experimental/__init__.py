"""Methods tried and not adopted, and the one-off probes behind such decisions; not part of the app. Each module
runs on its own (`python -m stylist.experimental.<name>`) so its result can be reproduced."""
