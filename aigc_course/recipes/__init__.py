"""Our labs' recipes against the tutorials' at an equal wall-clock budget (``bench recipes``).

One module per lab (``gan``, ``vae``, ``lstm``, ``gpt``, ``diffusion``), each defining ``LAB``.
"""
