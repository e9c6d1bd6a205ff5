"""Capacity planning: sweep files, layout search, bill of materials, power and cost, executors."""
