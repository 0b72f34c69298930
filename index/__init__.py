"""Turns review files into a searchable store and searches it."""
