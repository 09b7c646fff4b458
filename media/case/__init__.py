"""Case technology (§2): study material handed over as a self-contained package of files."""
