"""The control surface in a browser (`serve --http`) and `/metrics`."""
