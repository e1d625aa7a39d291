"""Plugin machinery: manifests, the versioned PluginApi facade, extension points, the manager.

Bundled plugins live in the top-level ``plugins/`` folder; user plugins in ``<data>/plugins``.
"""
