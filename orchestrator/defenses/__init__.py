"""Course-work defenses (§29–31): the sitting and its queue, committee grading, protocol, attendance."""
