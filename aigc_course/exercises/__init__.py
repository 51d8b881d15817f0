"""Checks for the write-it-yourself exercises, one module per chapter topic.

Each module lists its checks in ``__all__``; they are reached as ``aigc_course.check.<name>``,
e.g. ``check.gan_step(my_gan_step)``. A check runs the learner's function and the package's on
the same fixed inputs with :func:`aigc_course.check.function` and says what differs.
"""
