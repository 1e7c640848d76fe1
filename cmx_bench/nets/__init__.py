"""Backbone registry (model cards) and checkpoint loading."""
