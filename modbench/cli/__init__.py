"""The command line (Typer): one module per command. Commands compute nothing themselves; they
read suites, call the engine and the results store, and hand rows to the renderers."""
