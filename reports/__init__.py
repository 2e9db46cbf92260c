"""Rendering: the terminal tables, the HTML pages with their plotly charts, and the files a
replay or a study writes."""
