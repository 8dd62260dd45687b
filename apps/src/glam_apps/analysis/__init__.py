"""Looking at results: learning-curve figures."""
