"""One module per tab; each `create_*_tab` builds its tab and returns the components other tabs reuse."""
