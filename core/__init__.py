"""The shared core: configuration, errors, atomic file output and the data contract's code lists."""
