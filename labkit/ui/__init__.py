"""Notebook widgets and live plots; they call labkit.simulate and labkit.resources, never AWS directly."""
