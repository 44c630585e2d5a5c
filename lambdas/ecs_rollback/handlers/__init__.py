"""Lambda entry points. Each is thin: parse the event into a typed model, call one service, answer.

``handler`` is what Lambda calls; ``handle`` takes its dependencies as an argument so tests and
the local sandbox run the same code with their own clock or AWS endpoint.
"""
