"""BYOD programs, their rules, dispatch groups and events (built by the dispatch issue)."""
