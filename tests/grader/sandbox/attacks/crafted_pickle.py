# ruff: noqa
"""Returns pickles whose unpickling would run code (create a file), and the object itself."""

import pickle


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def attack_bytes(marker):
    return pickle.dumps(Payload(marker))


def attack_object(marker):
    return Payload(marker)
