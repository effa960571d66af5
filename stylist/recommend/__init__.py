"""The recommendation engine between the models and the app: describe the missing piece (outfit LM), retrieve
catalog items near the description (embedder over the catalog index), re-rank them (the outfit model's score)
and say why. It imports only `stylist.core` and `stylist.models`; the app, evaluation, the CLI and bench use it."""
