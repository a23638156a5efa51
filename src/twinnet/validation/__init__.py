"""Reproduction harnesses: TwinNet's results set against published ones (TR 38.901 §7.8.1
large-scale calibration against the 3GPP companies' results, :mod:`.calibration_38901`)."""
