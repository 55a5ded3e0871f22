"""gf's built-in plugins: ordinary plugin modules that use only the public ``gf`` API."""
