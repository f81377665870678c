"""Machine generations: recording a class's upgrades, their baseline jobs, and each series' factor across them."""
