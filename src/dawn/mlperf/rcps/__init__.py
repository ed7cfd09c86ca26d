"""Shipped Reference Convergence Points (official RCP JSON format), one file per dawn benchmark."""
