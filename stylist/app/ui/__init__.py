"""The Gradio page: `interface.build_ui` lays out the tabs, each built by one module of `components/`."""
