"""The floor every stage stands on: errors, units, clocks, checksums, credentials,
key templates and store addressing. Nothing here imports another ossync package."""
