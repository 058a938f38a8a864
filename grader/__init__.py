"""The interview-grading harness: intake, sandbox, checks, training check, quality, scoring,
report and the command line. Candidate code never runs in this process; see DESIGN.md."""

__version__ = "0.1.0"
