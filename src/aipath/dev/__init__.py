"""Tools for lab authors: ``dev check`` (every lab verified both ways, after a static contract
lint), ``dev new`` (a lab scaffold), and the check-time benchmarks.  The grader holds the engine
only; nothing here runs in a learner's check."""
