"""Per-track recording of live rooms: encoded frames written as received (no decode), a timeline on
one session clock, and the folder format the composer reads (docs/recording-format.md)."""
