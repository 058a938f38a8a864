"""Property checks: the machinery every check shares (`grader.checks.base`), and one module of
properties per built-in kind of task (`attention`, `multi_head_attention`, ...).

Checks run in the grader and reach the candidate's code only through the worker. Which
checks a task runs is the business of its kind (`grader.kinds`), which calls these modules.
"""
