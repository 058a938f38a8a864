"""Tests of the static quality analysis (grader.quality)."""
