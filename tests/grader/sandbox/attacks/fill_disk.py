# ruff: noqa
"""Writes a file bigger than the file-size limit into its scratch directory."""


def attack(megabytes):
    chunk = b"z" * (1024 * 1024)
    with open("big.bin", "wb") as handle:
        for _ in range(megabytes):
            handle.write(chunk)
    return "written"
