"""The Chinese font that plots use (see README.md here); ``clm_utils.plots.apply_style`` registers it."""
