"""Transfer mechanics: linking a source model, loading its weights, freezing what must not train."""
