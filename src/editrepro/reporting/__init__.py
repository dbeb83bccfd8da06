"""Tables of the paper regenerated: paper values, measured values, deltas."""
