"""One base class for every error that is the user's to fix (a recipe field, an input file, a
model the engine cannot run). Entry points print its message as one line, not a traceback."""


class ArcticRayError(Exception):
    pass
