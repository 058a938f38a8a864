"""Reference implementations of every task, written the way we want candidates to write."""
