"""slo_analysis: an incident analysis workbench for SREs on AWS."""
__version__ = "0.1.0"
