"""Running syncs as an operator does: one run end to end (:mod:`.runner`: sync, deliver the
report, prune history) and every enabled connection on its schedule (:mod:`.daemon`)."""
