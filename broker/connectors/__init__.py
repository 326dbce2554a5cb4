"""Upstream identity providers behind one interface (:mod:`broker.connectors.base`)."""
