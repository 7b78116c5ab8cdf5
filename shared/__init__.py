"""What the trainer and the viewer both need: the run-directory protocol, diagnostics and the figure.

Nothing here imports torch, so the viewer starts quickly and tests run without a GPU stack.
"""
