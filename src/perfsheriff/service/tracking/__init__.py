"""Measuring on our own: the track loop, where runs happen (here or on agents), bisection, confirmation."""
